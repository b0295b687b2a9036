using System.Net;
using Microsoft.Extensions.Logging;
using QuayAdmission.Tests.Hardening;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Tls;

/// <summary>
/// Without certificate files the webhook is ready only when the operator allowed a self-signed
/// certificate (<c>make run</c>): a Deployment whose TLS Secret is missing must not look Ready.
/// </summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task Without_a_certificate_it_is_not_ready_and_says_so_at_start()
    {
        await using var host = await WebhookHost.StartAsync(
            new Dictionary<string, string?> { ["QuayAdmission:Tls:AllowSelfSigned"] = "false" }, kestrel: true);
        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HealthPort}") };

        using var ready = await health.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("no serving certificate loaded\n", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode);
        var said = Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Id is 4001 or 4005 or 4006);
        Assert.Equal((4005, LogLevel.Error), (said.Id.Id, said.Level));
        Assert.Contains("AllowSelfSigned", said.Message, StringComparison.Ordinal);

        // No certificate to serve: no handshake succeeds, whatever the client would trust.
#pragma warning disable CA5359 // the point is that even a client trusting anything gets no connection
        using var https = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } });
#pragma warning restore CA5359
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => https.GetAsync(new Uri($"https://localhost:{host.HttpsPort}/healthz")));
    }

    [Fact]
    public async Task With_AllowSelfSigned_it_serves_a_self_signed_certificate_and_is_ready()
    {
        await using var host = await WebhookHost.StartAsync(
            new Dictionary<string, string?> { ["QuayAdmission:Tls:AllowSelfSigned"] = "true" }, kestrel: true);
        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HealthPort}") };

        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
        var said = Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Id is 4001 or 4005 or 4006);
        Assert.Equal((4001, LogLevel.Warning), (said.Id.Id, said.Level));
        using var https = KestrelLimitTests.HttpsClient(host);
        Assert.Equal(HttpStatusCode.OK, (await https.GetAsync(new Uri($"https://localhost:{host.HttpsPort}/healthz"))).StatusCode);
    }

    [Fact]
    public void Make_run_allows_a_self_signed_certificate_and_the_manifests_do_not()
    {
        var run = Manifests.RepoPaths.Read("Makefile").Split("\nrun:")[1].Split("\n\n")[0];

        Assert.Contains("QuayAdmission__Tls__AllowSelfSigned=true", run, StringComparison.Ordinal);
        Assert.DoesNotContain(Manifests.InstalledManifests.ConfigMap.Data.Keys, key => key.Contains("AllowSelfSigned", StringComparison.Ordinal));
        Assert.Equal("/tls/tls.crt", Manifests.InstalledManifests.Config("QuayAdmission__Tls__CertFile"));
    }
}
