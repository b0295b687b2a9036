using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using QuayAdmission.Admission;
using QuayAdmission.LoadBench;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Benchmarks;

/// <summary>Inputs shared by the benchmarks: the load runs' Pod and review, decoded once.</summary>
internal static class Fixtures
{
    public const string Host = "quay.example.com";
    public static readonly IReadOnlyList<string> Hosts = [Host, "registry.example.org:5000"];

    public static readonly byte[] ReviewBytes = Encoding.UTF8.GetBytes(
        Reviews.Create(BenchPods.Pod("team-a", "web", "acme+puller"), uid: "6f1e7a52-3c4b-4d8e-9f0a-1b2c3d4e5f60"));

    public static readonly ReadOnlySequence<byte> ReviewSequence = new(ReviewBytes);

    /// <summary>The review with inject: "true" on the pod, which settles the opt-out question without reading its ServiceAccount or Namespace.</summary>
    public static readonly ReadOnlySequence<byte> InjectReviewSequence = new(InjectReview());

    public static AdmissionRequest Request(bool injectAnnotation = false) =>
        JsonSerializer.Deserialize(injectAnnotation ? InjectReviewSequence.First.Span : ReviewBytes, BenchJsonContext.Default.AdmissionReview)!.Request!;

    private static byte[] InjectReview()
    {
        var pod = System.Text.Json.Nodes.JsonNode.Parse(BenchPods.Pod("team-a", "web", "acme+puller"))!;
        pod["metadata"]!["annotations"]!["quay-admission.io/inject"] = "true";
        return Encoding.UTF8.GetBytes(Reviews.Create(pod.ToJsonString(), uid: "6f1e7a52-3c4b-4d8e-9f0a-1b2c3d4e5f60"));
    }

    /// <summary>The load runs' Pod listing <paramref name="pullSecrets"/>, read as admission reads it (PodFacts).</summary>
    public static PodFacts Pod(params string[] pullSecrets)
    {
        var pod = System.Text.Json.Nodes.JsonNode.Parse(BenchPods.Pod("team-a", "web", "acme+puller"))!;
        if (pullSecrets.Length > 0)
            pod["spec"]!["imagePullSecrets"] = new System.Text.Json.Nodes.JsonArray([.. pullSecrets.Select(n => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject { ["name"] = n })]);
        using var review = AdmissionReviewDocument.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(Reviews.Create(pod.ToJsonString()))));
        return ReviewFacts.Read(review.Review!.Request!).Pod!;
    }
}

/// <summary>
/// A copy of src's internal AdmissionJsonContext declaration (same options, same root type), so
/// decode and encode are measured with the same generated code path the endpoint uses.
/// </summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(AdmissionReview))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;

/// <summary>What the load runs' floor parses: the envelope, not the Pod.</summary>
internal sealed record Envelope(
    [property: JsonPropertyName("apiVersion")] string? ApiVersion,
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("request")] EnvelopeRequest? Request);

internal sealed record EnvelopeRequest([property: JsonPropertyName("uid")] string? Uid);

[JsonSerializable(typeof(Envelope))]
internal sealed partial class EnvelopeJsonContext : JsonSerializerContext;
