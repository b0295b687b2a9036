using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using QuayAdmission.Tests.Hardening;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Tls;

/// <summary>
/// <c>Tls:ClientCaFile</c>: with it, only clients holding a certificate from that CA reach
/// <c>/mutate</c>, over the real Kestrel; without it, any client does (the namespace rules and the
/// NetworkPolicy bound what it can do).
/// </summary>
public sealed class ClientCertificateTests : IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(10);
    private readonly string directory = Directory.CreateTempSubdirectory("quay-admission-client-ca-").FullName;
    private readonly TestAuthority authority = new("cluster client CA");
    private readonly TestAuthority stranger = new("some other CA");

    private string CaFile => Path.Combine(directory, "client-ca.crt");

    public void Dispose()
    {
        authority.Dispose();
        stranger.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Without_a_client_CA_a_client_without_a_certificate_is_answered()
    {
        await using var host = await WebhookHost.StartAsync(kestrel: true);
        host.Trust("acme+puller");

        var result = await PostAsync(host, client: null, uid: "open");

        Assert.Equal("open", result.Uid);
        Assert.True(result.HasPatch, result.Body);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Id == 4008);
    }

    [Fact]
    public async Task With_a_client_CA_a_client_without_a_certificate_is_refused()
    {
        await using var host = await StartAsync();

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => PostAsync(host, client: null, uid: "anonymous"));

        AssertNothingReached(host);
    }

    [Fact]
    public async Task With_a_client_CA_a_certificate_from_another_CA_is_refused()
    {
        await using var host = await StartAsync();
        using var forged = stranger.Issue("system:kube-apiserver");

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => PostAsync(host, forged, uid: "forged"));

        AssertNothingReached(host);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Id == 4012 && r.Message.Contains("CN=system:kube-apiserver", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_a_client_CA_a_certificate_for_server_authentication_only_is_refused()
    {
        await using var host = await StartAsync();
        using var serverOnly = authority.Issue("some-server", serverOnly: true);

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => PostAsync(host, serverOnly, uid: "wrong-usage"));

        AssertNothingReached(host);
    }

    [Fact]
    public async Task With_a_client_CA_a_certificate_it_issued_is_answered()
    {
        await using var host = await StartAsync();
        host.Trust("acme+puller");
        using var apiServer = authority.Issue("kube-apiserver-webhook-client");

        var result = await PostAsync(host, apiServer, uid: "authenticated");

        Assert.Equal(HttpStatusCode.OK, result.Status);
        Assert.Equal("authenticated", result.Uid);
        Assert.True(result.HasPatch, result.Body);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Id == 4007);
    }

    [Fact]
    public async Task Readiness_waits_for_the_client_CA_which_is_reloaded_like_the_serving_certificate()
    {
        await using var host = await WebhookHost.StartAsync(Settings(), kestrel: true); // the CA file does not exist yet
        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HealthPort}") };
        using var apiServer = authority.Issue("kube-apiserver-webhook-client");

        using (var unready = await health.GetAsync(new Uri("/readyz", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unready.StatusCode);
            Assert.Equal("no client CA loaded\n", await unready.Content.ReadAsStringAsync());
        }
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => PostAsync(host, apiServer, uid: "too-early"));

        await File.WriteAllTextAsync(CaFile, authority.Pem);
        Assert.True(await Eventually.TrueAsync(() => Advanced(host) && health.GetAsync(new Uri("/readyz", UriKind.Relative)).Result.StatusCode == HttpStatusCode.OK));

        Assert.Equal("in-time", (await PostAsync(host, apiServer, uid: "in-time")).Uid);
    }

    private Dictionary<string, string?> Settings() => new()
    {
        ["QuayAdmission:Tls:ClientCaFile"] = CaFile,
        ["QuayAdmission:Tls:PollInterval"] = Poll.ToString(),
    };

    private async Task<WebhookHost> StartAsync()
    {
        await File.WriteAllTextAsync(CaFile, authority.Pem);
        return await WebhookHost.StartAsync(Settings(), kestrel: true);
    }

    private static bool Advanced(WebhookHost host)
    {
        host.Time.Advance(Poll);
        return true;
    }

    /// <summary>A review that would cost a TokenRequest and an exchange, had it got through.</summary>
    private static async Task<AdmissionResult> PostAsync(WebhookHost host, X509Certificate2? client, string uid)
    {
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = KestrelLimitTests.TrustServed(host);
        if (client is not null)
        {
            handler.SslOptions.ClientCertificates = [client];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => client;
        }
        using var http = new HttpClient(handler);
        using var body = new StringContent(Reviews.Create(Pods.Json(), uid), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri($"https://localhost:{host.HttpsPort}/mutate"), body);
        return await AdmissionResult.ReadAsync(response);
    }

    private static void AssertNothingReached(WebhookHost host)
    {
        Assert.Equal(0, host.Kube.TotalCount);
        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.DoesNotContain(host.Logs.GetSnapshot(), r => r.Id.Id is 1001 or 1003);
    }
}
