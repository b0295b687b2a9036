using System.Text.Json;
using System.Text.Json.Nodes;

namespace QuayAdmission.Patching;

/// <summary>The pull Secret names a Pod lists, and whether it has the field at all (which decides the patch's shape).</summary>
public sealed record PullSecretList(bool Present, IReadOnlySet<string> Names);

/// <summary>
/// Adds pull Secret names to a Pod, read from the raw request JSON so that fields our model
/// does not know are never touched (the re-serialize-and-diff trap of kueue#2878).
/// </summary>
public static class ImagePullSecretsPatch
{
    private static readonly string FieldPath = JsonPointer.Append(JsonPointer.Append("", "spec"), "imagePullSecrets");
    private static readonly string AppendPath = JsonPointer.Append(FieldPath, "-");

    /// <summary>Reads <c>spec.imagePullSecrets</c>; throws <see cref="PodShapeException"/> when it is malformed.</summary>
    public static PullSecretList Read(JsonElement pod)
    {
        if (pod.ValueKind != JsonValueKind.Object)
            throw new PodShapeException("the object is not a JSON object");
        if (!pod.TryGetProperty("spec", out var spec) || spec.ValueKind != JsonValueKind.Object)
            throw new PodShapeException("the pod has no spec");
        if (!spec.TryGetProperty("imagePullSecrets", out var list) || list.ValueKind == JsonValueKind.Null)
            return new PullSecretList(false, new HashSet<string>());
        if (list.ValueKind != JsonValueKind.Array)
            throw new PodShapeException("spec.imagePullSecrets is not an array");

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in list.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
                throw new PodShapeException("spec.imagePullSecrets entries must be objects");
            if (entry.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                names.Add(PodShapeException.Text(name, "spec.imagePullSecrets[].name"));
        }
        return new PullSecretList(true, names);
    }

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

    public static IReadOnlyList<PatchOperation> Build(JsonElement pod, IEnumerable<string> names) => Build(Read(pod), names);

    private static JsonObject Reference(string name) => new() { ["name"] = name };
}

/// <summary>The pod JSON is not shaped like a Pod where we need to read or write it.</summary>
public sealed class PodShapeException(string message) : Exception(message)
{
    /// <summary>A string value, refusing text that is not valid UTF-8 (System.Text.Json only finds out on reading it).</summary>
    public static string Text(JsonElement value, string path)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new PodShapeException($"{path} is not valid UTF-8 text");
        }
    }
}
