using System.Buffers;
using System.Net;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace QuayAdmission.Floor;

/// <summary>
/// The floor of the stack: the webhook's Kestrel setup (HTTPS, TLS 1.2/1.3, HTTP/1.1
/// and 2, the same limits, a minimal-API POST /mutate, the same logging levels) with none of its
/// work. It parses the review into a small record and answers a canned AdmissionReview of the same
/// shape and size as the webhook's warm answer, echoing the uid. Whatever the webhook costs beyond
/// this is the cost of QuayAdmission itself.
/// </summary>
internal static class FloorServer
{
    // As the webhook: its 7 MiB review cap, and Kestrel's backstop at twice that.
    private const long MaxRequestBodySize = 2L * 7 * 1024 * 1024;

    public const string AllocatedPath = "/bench/allocated";

    // The warm answer's patch: the imagePullSecrets add with a Secret name of the contract's length,
    // and the injected label.
    private static readonly byte[] Prefix = Encoding.UTF8.GetBytes(
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"");

    private static readonly byte[] Suffix = Encoding.UTF8.GetBytes(
        "\",\"allowed\":true,\"patchType\":\"JSONPatch\",\"patch\":\""
        + Convert.ToBase64String("""[{"op":"add","path":"/spec/imagePullSecrets","value":[{"name":"quay-acme-puller-0123456789"}]},{"op":"add","path":"/metadata/labels/quay-admission.io~1injected","value":"true"}]"""u8)
        + "\"}}");

    /// <summary>Configured like the webhook, through the environment: FLOOR_CERT, FLOOR_KEY, FLOOR_HTTPS_PORT, FLOOR_HEALTH_PORT.</summary>
    public static async Task Main()
    {
        var certificatePem = await File.ReadAllTextAsync(Required("FLOOR_CERT"));
        var keyPem = await File.ReadAllTextAsync(Required("FLOOR_KEY"));
        var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(certificatePem, keyPem);
        var httpsPort = int.Parse(Required("FLOOR_HTTPS_PORT"), System.Globalization.CultureInfo.InvariantCulture);
        var healthPort = int.Parse(Required("FLOOR_HEALTH_PORT"), System.Globalization.CultureInfo.InvariantCulture);

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        // The webhook's appsettings.json levels, and nothing else from this directory or the environment.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = 1000;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodySize;
            kestrel.Listen(IPAddress.Loopback, httpsPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(https =>
                {
                    https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                    https.ServerCertificateSelector = (_, _) => certificate;
                });
            });
            kestrel.Listen(IPAddress.Loopback, healthPort, listen => listen.Protocols = HttpProtocols.Http1);
        });

        var app = builder.Build();
        app.MapPost("/mutate", HandleAsync);
        app.MapGet("/readyz", () => Results.Text("ok\n"));
        // Bytes allocated so far, all threads: the bench reads it before and after its counted requests.
        app.MapGet(AllocatedPath, () => Results.Text(GC.GetTotalAllocatedBytes(precise: true).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await app.RunAsync();
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var review = await JsonSerializer.DeserializeAsync(context.Request.Body, FloorJsonContext.Default.FloorReview, context.RequestAborted);
        // A uid is a UUID; checking that keeps the canned JSON valid without an encoder.
        if (review?.Request?.Uid is not { } uid || !Guid.TryParse(uid, out _))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        context.Response.ContentType = "application/json";
        var writer = context.Response.BodyWriter;
        writer.Write(Prefix);
        Encoding.UTF8.GetBytes(uid, writer);
        writer.Write(Suffix);
        await writer.FlushAsync(context.RequestAborted);
    }

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : throw new InvalidOperationException($"{name} is not set");
}

internal sealed record FloorReview(
    [property: JsonPropertyName("apiVersion")] string? ApiVersion,
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("request")] FloorRequest? Request);

internal sealed record FloorRequest([property: JsonPropertyName("uid")] string? Uid);

[JsonSerializable(typeof(FloorReview))]
internal sealed partial class FloorJsonContext : JsonSerializerContext;
