using System.Text.Json;
using System.Text.Json.Nodes;

namespace QuayAdmission.Patching;

/// <summary>
/// Adds pull Secret names to a Pod, read from the raw request JSON so that fields our model
/// does not know are never touched (the re-serialize-and-diff trap of kueue#2878).
/// </summary>
public static class ImagePullSecretsPatch
{
    private const string FieldPath = "/spec/imagePullSecrets";

    /// <summary>The names the pod already lists; throws <see cref="PodShapeException"/> on a malformed spec.</summary>
    public static HashSet<string> ExistingNames(JsonElement pod)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var list = ImagePullSecrets(pod);
        if (list is not { } array)
            return names;
        foreach (var entry in array.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
                throw new PodShapeException("spec.imagePullSecrets entries must be objects");
            if (entry.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                names.Add(name.GetString()!);
        }
        return names;
    }

    /// <summary>Operations adding each of <paramref name="names"/> the pod does not list yet, in order.</summary>
    public static IReadOnlyList<PatchOperation> Build(JsonElement pod, IEnumerable<string> names)
    {
        var existing = ExistingNames(pod);
        var missing = names.Distinct(StringComparer.Ordinal).Where(n => !existing.Contains(n)).ToList();
        if (missing.Count == 0)
            return [];

        if (ImagePullSecrets(pod) is null)
        {
            var array = new JsonArray(missing.Select(n => (JsonNode)Reference(n)).ToArray());
            return [PatchOperation.Add(FieldPath, array)];
        }
        return missing.Select(n => PatchOperation.Add(FieldPath + "/-", Reference(n))).ToList();
    }

    private static JsonObject Reference(string name) => new() { ["name"] = name };

    private static JsonElement? ImagePullSecrets(JsonElement pod)
    {
        if (pod.ValueKind != JsonValueKind.Object)
            throw new PodShapeException("the object is not a JSON object");
        if (!pod.TryGetProperty("spec", out var spec) || spec.ValueKind != JsonValueKind.Object)
            throw new PodShapeException("the pod has no spec");
        if (!spec.TryGetProperty("imagePullSecrets", out var list) || list.ValueKind == JsonValueKind.Null)
            return null;
        if (list.ValueKind != JsonValueKind.Array)
            throw new PodShapeException("spec.imagePullSecrets is not an array");
        return list;
    }
}

/// <summary>The pod JSON is not shaped like a Pod where we need to read or write it.</summary>
public sealed class PodShapeException(string message) : Exception(message);
