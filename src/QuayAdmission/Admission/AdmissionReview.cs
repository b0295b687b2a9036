using System.Text.Json;
using System.Text.Json.Serialization;

namespace QuayAdmission.Admission;

// admission.k8s.io/v1 wire records: KubernetesClient has none. Only the fields we read or write.

public sealed record AdmissionReview
{
    public const string V1 = "admission.k8s.io/v1";
    public const string ReviewKind = "AdmissionReview";

    [JsonPropertyName("apiVersion")] public string? ApiVersion { get; init; }
    [JsonPropertyName("kind")] public string? Kind { get; init; }
    [JsonPropertyName("request")] public AdmissionRequest? Request { get; init; }
    [JsonPropertyName("response")] public AdmissionResponse? Response { get; init; }
}

public sealed record AdmissionRequest
{
    [JsonPropertyName("uid")] public string? Uid { get; init; }
    [JsonPropertyName("kind")] public GroupVersionKind? Kind { get; init; }
    [JsonPropertyName("namespace")] public string? Namespace { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("operation")] public string? Operation { get; init; }
    [JsonPropertyName("subResource")] public string? SubResource { get; init; }
    [JsonPropertyName("object")] public JsonElement? Object { get; init; }
    [JsonPropertyName("dryRun")] public bool? DryRun { get; init; }
}

public sealed record GroupVersionKind(
    [property: JsonPropertyName("group")] string? Group,
    [property: JsonPropertyName("version")] string? Version,
    [property: JsonPropertyName("kind")] string? Kind);

public sealed record AdmissionResponse
{
    [JsonPropertyName("uid")] public required string Uid { get; init; }
    [JsonPropertyName("allowed")] public required bool Allowed { get; init; }
    [JsonPropertyName("status")] public AdmissionStatus? Status { get; init; }
    [JsonPropertyName("patchType")] public string? PatchType { get; init; }
    [JsonPropertyName("patch")] public byte[]? Patch { get; init; }
    [JsonPropertyName("warnings")] public IReadOnlyList<string>? Warnings { get; init; }
}

public sealed record AdmissionStatus(
    [property: JsonPropertyName("code")] int Code,
    [property: JsonPropertyName("message")] string Message);

[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(AdmissionReview))]
internal sealed partial class AdmissionJsonContext : JsonSerializerContext;
