using System.Text.Json.Nodes;

namespace QuayAdmission.Patching;

/// <summary>The pull Secret names a Pod lists, and whether it has the field at all (which decides the patch's shape).</summary>
public sealed record PullSecretList(bool Present, IReadOnlySet<string> Names)
{
    public static readonly PullSecretList Absent = new(false, new HashSet<string>());
}

/// <summary>
/// Adds pull Secret names to a Pod, from what was read of the raw request JSON (PodFacts), so that
/// fields our model does not know are never touched (the re-serialize-and-diff trap of kueue#2878).
/// </summary>
public static class ImagePullSecretsPatch
{
    private static readonly string FieldPath = JsonPointer.Append(JsonPointer.Append("", "spec"), "imagePullSecrets");
    private static readonly string AppendPath = JsonPointer.Append(FieldPath, "-");

    /// <summary>Operations adding each of <paramref name="names"/> the pod does not list yet, in order.</summary>
    public static IReadOnlyList<PatchOperation> Build(PullSecretList existing, IEnumerable<string> names)
    {
        var missing = names.Distinct(StringComparer.Ordinal).Where(n => !existing.Names.Contains(n)).ToList();
        if (missing.Count == 0)
            return [];
        if (!existing.Present)
            return [PatchOperation.Add(FieldPath, new JsonArray(missing.Select(n => (JsonNode)Reference(n)).ToArray()))];
        return missing.Select(n => PatchOperation.Add(AppendPath, Reference(n))).ToList();
    }

    private static JsonObject Reference(string name) => new() { ["name"] = name };
}
