using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace QuayAdmission.Patching;

/// <summary>One RFC 6902 operation. We only ever add: other writers' fields are never replaced or removed.</summary>
public sealed record PatchOperation(
    [property: JsonPropertyName("op")] string Op,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("value")] JsonNode? Value)
{
    public static PatchOperation Add(string path, JsonNode? value) => new("add", path, value);

    public static byte[] Serialize(IReadOnlyList<PatchOperation> operations) =>
        JsonSerializer.SerializeToUtf8Bytes(operations, PatchJsonContext.Default.IReadOnlyListPatchOperation);
}

[JsonSerializable(typeof(IReadOnlyList<PatchOperation>))]
internal sealed partial class PatchJsonContext : JsonSerializerContext;
