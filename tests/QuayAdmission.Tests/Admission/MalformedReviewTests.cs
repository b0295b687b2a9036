using System.Net;
using System.Text;
using QuayAdmission.Admission;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

public sealed class MalformedReviewTests : IAsyncLifetime
{
    private WebhookHost host = null!;

    public async Task InitializeAsync() => host = await WebhookHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    public static TheoryData<string, string, string, HttpStatusCode> Cases => new()
    {
        { "empty", "", "application/json", HttpStatusCode.BadRequest },
        { "not json", "hello", "application/json", HttpStatusCode.BadRequest },
        { "truncated", Reviews.Create(Pods.Json())[..100], "application/json", HttpStatusCode.BadRequest },
        { "wrong content type", Reviews.Create(Pods.Json()), "text/plain", HttpStatusCode.UnsupportedMediaType },
        { "yaml content type", Reviews.Create(Pods.Json()), "application/yaml", HttpStatusCode.UnsupportedMediaType },
        { "v1beta1", Reviews.Create(Pods.Json()).Replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1", StringComparison.Ordinal), "application/json", HttpStatusCode.BadRequest },
        { "wrong kind", Reviews.Create(Pods.Json()).Replace("\"AdmissionReview\"", "\"Pod\"", StringComparison.Ordinal), "application/json", HttpStatusCode.BadRequest },
        { "no request", """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}""", "application/json", HttpStatusCode.BadRequest },
        { "no uid", """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}""", "application/json", HttpStatusCode.BadRequest },
        { "json array", "[]", "application/json", HttpStatusCode.BadRequest },
        { "uid of wrong type", """{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5}}""", "application/json", HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Gets_the_documented_status_and_the_server_keeps_serving(string why, string body, string contentType, HttpStatusCode expected)
    {
        var result = await host.PostAsync(body, contentType);

        Assert.Equal(expected, result.Status);
        Assert.DoesNotContain("   at ", result.Body, StringComparison.Ordinal); // no stack trace
        Assert.Single(result.Body.TrimEnd('\n').Split('\n'));
        Assert.False(string.IsNullOrWhiteSpace(result.Body), why);
        Assert.True((await host.AdmitAsync(Pods.Json(robotAccount: null))).Allowed);
    }

    [Fact]
    public async Task Eight_mebibytes_is_too_large()
    {
        var padding = new string('a', 8 * 1024 * 1024);
        var body = Reviews.Create(Pods.Json(annotations: new Dictionary<string, string> { ["padding"] = padding }));
        var result = await host.PostAsync(body);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, result.Status);
        Assert.True((await host.AdmitAsync(Pods.Json(robotAccount: null))).Allowed);
    }

    [Fact]
    public async Task Eight_mebibytes_chunked_is_too_large()
    {
        var body = Encoding.UTF8.GetBytes(Reviews.Create(Pods.Json(annotations: new Dictionary<string, string> { ["padding"] = new string('a', 8 * 1024 * 1024) })));
        using var content = new ChunkedContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await host.Client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Over_real_kestrel_and_tls_too_large_bodies_get_413_and_the_server_keeps_serving()
    {
        await using var kestrel = await WebhookHost.StartAsync(kestrel: true);
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{kestrel.HttpsPort}") };
        // Over the endpoint's cap, under Kestrel's backstop (which closes the connection instead of answering).
        var big = Encoding.UTF8.GetBytes(Reviews.Create(Pods.Json(annotations: new Dictionary<string, string> { ["padding"] = new string('a', AdmissionEndpoint.MaxBodyBytes + 512 * 1024) })));

        foreach (HttpContent content in new HttpContent[] { new ByteArrayContent(big), new ChunkedContent(big) })
        {
            using (content)
            {
                content.Headers.ContentType = new("application/json");
                using var response = await client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            }
        }

        using var valid = new StringContent(Reviews.Create(Pods.Json(robotAccount: null)), Encoding.UTF8, "application/json");
        using var answer = await client.PostAsync(new Uri("/mutate", UriKind.Relative), valid);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task Malformed_pod_is_denied_with_a_reason()
    {
        var review = Reviews.Create("""{"metadata":{"namespace":"team-a","annotations":{"quay-admission.io/robot-account":5}},"spec":{}}""");
        var result = await host.PostAsync(review);
        Assert.False(result.Allowed);
        Assert.Equal(400, result.Code);
        Assert.Contains("annotation", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mutate_is_not_served_over_plain_http()
    {
        using var client = host.Factory.CreateClient();
        using var content = new StringContent(Reviews.Create(Pods.Json()), Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>A body without Content-Length, so the cap must be enforced while reading.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
