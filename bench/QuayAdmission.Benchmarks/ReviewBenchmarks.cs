using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.Admission;
using QuayAdmission.Hosting;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;

namespace QuayAdmission.Benchmarks;

/// <summary>
/// The review on the wire: decoding the load runs' 3.5 KB review, encoding the warm answer, and the
/// warm decision between them (token cached, so no I/O; logging to a null logger).
/// </summary>
[MemoryDiagnoser]
public class ReviewBenchmarks
{
    private readonly ArrayBufferWriter<byte> output = new(4096);
    private readonly AdmissionReview answer;
    private readonly WebApplication app;
    private readonly PullSecretInjector injector;
    private readonly Utf8JsonWriter writer;
    private readonly AdmissionRequest request = Fixtures.Request(injectAnnotation: true);

    public ReviewBenchmarks()
    {
        writer = new Utf8JsonWriter(output);
        // The real composition root, so the decision is wired exactly as in the webhook.
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["QuayAdmission:Registries:0:Host"] = Fixtures.Host,
            ["QuayAdmission:Refresher:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "None",
        });
        builder.AddQuayAdmission();
        // Never called: the key is cached and the pod says inject "true", so no scope is read.
        builder.Services.AddSingleton(new k8s.KubernetesClientConfiguration { Host = "http://127.0.0.1:9" });
        app = builder.Build();
        injector = app.Services.GetRequiredService<PullSecretInjector>();
        // The token is cached as the Secret watch would have it.
        var key = new PullSecretKey("team-a", "web", Fixtures.Host, "acme+puller");
        app.Services.GetRequiredService<ManagedSecretCache>().Remember(
            PullSecretManifest.Build(key, new QuayToken("bench-token", DateTimeOffset.UtcNow.AddHours(1))));

        var outcome = injector.DecideAsync(request, CancellationToken.None).GetAwaiter().GetResult();
        if (outcome is not AdmissionOutcome.Patched { Operations.Count: > 0, Warnings.Count: 0 })
            throw new InvalidOperationException($"the warm decision is not a clean patch: {string.Join("; ", outcome.Warnings)}");
        answer = Answer(outcome);
    }

    /// <summary>The endpoint's decode: the body tokenized once into a pooled document, the envelope read from it.</summary>
    [Benchmark]
    public string? Decode()
    {
        using var review = AdmissionReviewDocument.Parse(Fixtures.ReviewSequence);
        return review.Review?.Request?.Uid;
    }

    /// <summary>
    /// The same parse with duplicate properties allowed: the difference is what the duplicate check
    /// costs, since it validates every object of the Pod.
    /// </summary>
    [Benchmark]
    public int DecodeAllowingDuplicates()
    {
        using var document = JsonDocument.Parse(Fixtures.ReviewBytes);
        return document.RootElement.GetPropertyCount();
    }

    /// <summary>The decode before issue 11: the serializer into the wire records, the Pod copied into a JsonElement of its own.</summary>
    [Benchmark]
    public AdmissionReview? DecodeTyped() => JsonSerializer.Deserialize(Fixtures.ReviewBytes, BenchJsonContext.Default.AdmissionReview);

    /// <summary>For scale: the floor's parse of the same bytes, into apiVersion, kind and uid, skipping over the Pod.</summary>
    [Benchmark]
    public string? DecodeEnvelopeOnly() => JsonSerializer.Deserialize(Fixtures.ReviewBytes, EnvelopeJsonContext.Default.Envelope)?.Request?.Uid;

    [Benchmark]
    public int Encode()
    {
        output.ResetWrittenCount();
        writer.Reset();
        JsonSerializer.Serialize(writer, answer, BenchJsonContext.Default.AdmissionReview);
        return output.WrittenCount;
    }

    /// <summary>The facts, the annotation, the keys, the cache hit, the decision and its patch: everything but transport and JSON.</summary>
    [Benchmark]
    public Task<AdmissionOutcome> DecideWarm() => injector.DecideAsync(request, CancellationToken.None);

    /// <summary>Decode, decide and encode: the endpoint's CPU work per warm admission without HTTP and TLS.</summary>
    [Benchmark]
    public async Task<int> DecodeDecideEncode()
    {
        using var review = AdmissionReviewDocument.Parse(Fixtures.InjectReviewSequence);
        var outcome = await injector.DecideAsync(review.Review!.Request!, CancellationToken.None);
        output.ResetWrittenCount();
        writer.Reset();
        JsonSerializer.Serialize(writer, Answer(outcome), BenchJsonContext.Default.AdmissionReview);
        return output.WrittenCount;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        writer.Dispose();
        ((IDisposable)app).Dispose();
    }

    private static AdmissionReview Answer(AdmissionOutcome outcome) => new()
    {
        ApiVersion = AdmissionReview.V1,
        Kind = AdmissionReview.ReviewKind,
        Response = outcome.ToResponse("6f1e7a52-3c4b-4d8e-9f0a-1b2c3d4e5f60"),
    };
}
