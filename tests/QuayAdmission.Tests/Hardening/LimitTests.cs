using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;
using QuayAdmission.Tls;

namespace QuayAdmission.Tests.Hardening;

// What bounds the webhook's work: outbound exchanges, inbound connections and headers, and shutdown.
// Three classes, so that xunit overlaps their real-time waits.

public sealed class ExchangeLimitTests
{
    private const string Robot = "acme+puller";

    [Fact]
    public async Task A_flood_of_distinct_keys_never_has_more_exchanges_in_flight_than_the_limit()
    {
        const int limit = 4;
        const int keys = 50;
        // One namespace: its share is the whole limit here, so the global limit is what binds.
        await using var host = await WebhookHost.StartAsync(new Dictionary<string, string?>
        {
            ["QuayAdmission:MaxConcurrentExchanges"] = limit.ToString(CultureInfo.InvariantCulture),
            ["QuayAdmission:MaxExchangesPerNamespace"] = limit.ToString(CultureInfo.InvariantCulture),
        });
        var accounts = Enumerable.Range(0, keys).Select(i => $"sa-{i}").ToList();
        accounts.ForEach(sa => host.Trust(Robot, serviceAccount: sa));
        host.Quay.Behaviour = QuayBehaviour.Delay(TimeSpan.FromMilliseconds(500));

        var admissions = accounts.Select(sa => host.AdmitAsync(Pods.Json(name: null, generateName: "job-", serviceAccount: sa))).ToList();

        // In flight at the stand-ins: Quay counts a call when it arrives and records it when it answers; a
        // TokenRequest is made inside the same bounded section, just before its exchange.
        var maxAtQuay = 0;
        var maxMinting = 0;
        var advanced = false;
        var done = await Eventually.TrueAsync(() =>
        {
            // Started before finished: a slot that frees and refills between the two reads then counts
            // low, never high (read the other way round, one call could count twice).
            var arrived = host.Quay.ExchangeCount;
            var minting = host.Kube.Count("tokenrequest");
            var answered = host.Quay.Exchanges.Count;
            maxAtQuay = Math.Max(maxAtQuay, arrived - answered);
            maxMinting = Math.Max(maxMinting, minting - answered);
            if (!advanced && host.Kube.Count("secrets.get") == keys)
            {
                // Every key has started; admissions stop waiting after their budget and the exchanges go on behind them.
                host.Time.Advance(WebhookHost.InlineBudget);
                advanced = true;
            }
            return answered == keys;
        }, TimeSpan.FromSeconds(60));

        Assert.True(done, $"only {host.Quay.Exchanges.Count} of {keys} exchanges finished");
        Assert.InRange(maxAtQuay, 1, limit);
        Assert.InRange(maxMinting, 1, limit);
        Assert.All(host.Quay.Exchanges, e => Assert.True(e.Succeeded, e.Error));
        var results = await Task.WhenAll(admissions).WaitAsync(HardeningHost.NoHang);
        Assert.All(results, r => Assert.True(r.Allowed && r.HasPatch, r.Body));
    }

}

public sealed class KestrelLimitTests
{
    [Fact]
    public async Task Kestrel_limits_are_set_by_default_and_configurable()
    {
        await using (var defaults = await WebhookHost.StartAsync())
        {
            var limits = Kestrel(defaults).Limits;
            Assert.Equal(256, limits.MaxConcurrentConnections);
            Assert.Equal(TimeSpan.FromSeconds(10), limits.RequestHeadersTimeout);
            Assert.True(limits.MaxRequestBodySize > QuayAdmission.Admission.AdmissionEndpoint.MaxBodyBytes); // a backstop behind the endpoint's own 413
            Assert.Equal((256 * 1024, TimeSpan.FromSeconds(2)), (limits.MinRequestBodyDataRate!.BytesPerSecond, limits.MinRequestBodyDataRate.GracePeriod));
            // What a connection may buffer unread is small, so idle and stalled connections pin little.
            Assert.Equal(64 * 1024, limits.MaxRequestBufferSize);
            Assert.Equal((64 * 1024, 64 * 1024), (limits.Http2.InitialConnectionWindowSize, limits.Http2.InitialStreamWindowSize));
            var socket = defaults.Factory.Services.GetRequiredService<IOptions<Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>>().Value;
            Assert.Equal(64 * 1024, socket.MaxReadBufferSize);
            Assert.Equal(3.5 * 1024 * 1024, QuayAdmission.Admission.AdmissionEndpoint.MaxBodyBytes);
        }

        await using var host = await WebhookHost.StartAsync(new Dictionary<string, string?>
        {
            ["QuayAdmission:Server:MaxConcurrentConnections"] = "7",
            ["QuayAdmission:Server:RequestHeadersTimeout"] = "00:00:03",
            ["QuayAdmission:Server:MinBodyBytesPerSecond"] = "1000",
            ["QuayAdmission:Server:BodyGracePeriod"] = "00:00:05",
        });
        Assert.Equal(7, Kestrel(host).Limits.MaxConcurrentConnections);
        Assert.Equal(TimeSpan.FromSeconds(3), Kestrel(host).Limits.RequestHeadersTimeout);
        Assert.Equal((1000, TimeSpan.FromSeconds(5)), (Kestrel(host).Limits.MinRequestBodyDataRate!.BytesPerSecond, Kestrel(host).Limits.MinRequestBodyDataRate!.GracePeriod));
    }

    [Fact]
    public async Task A_connection_that_never_finishes_its_headers_is_closed()
    {
        await using var host = await WebhookHost.StartAsync(
            new Dictionary<string, string?> { ["QuayAdmission:Server:RequestHeadersTimeout"] = "00:00:01" }, kestrel: true);

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, host.HttpsPort);
        await using var tls = await HandshakeAsync(host, tcp);
        await tls.WriteAsync("POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: app"u8.ToArray());
        await tls.FlushAsync();

        // Kestrel keeps real time for this; the bound is generous, it only proves the connection does not stay open.
        var closed = await ReadUntilClosedAsync(tls).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(closed.Length == 0 || closed.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), closed);

        using var served = await HttpsClient(host).GetAsync(new Uri($"https://localhost:{host.HttpsPort}/healthz"));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Connections_over_the_limit_are_refused_until_one_closes()
    {
        await using var host = await WebhookHost.StartAsync(
            new Dictionary<string, string?> { ["QuayAdmission:Server:MaxConcurrentConnections"] = "2" }, kestrel: true);

        using var first = new TcpClient();
        using var second = new TcpClient();
        await first.ConnectAsync(IPAddress.Loopback, host.HttpsPort);
        await second.ConnectAsync(IPAddress.Loopback, host.HttpsPort);
        await using var firstTls = await HandshakeAsync(host, first);
        await using var secondTls = await HandshakeAsync(host, second);

        using (var third = new TcpClient())
        {
            await third.ConnectAsync(IPAddress.Loopback, host.HttpsPort);
            await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(host, third).WaitAsync(HardeningHost.NoHang));
        }

        first.Close();
        Assert.True(await Eventually.TrueAsync(() => CanHandshake(host), HardeningHost.NoHang), "a slot never came free");
    }

    internal static KestrelServerOptions Kestrel(WebhookHost host) =>
        host.Factory.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value;

    /// <summary>Trusts exactly the certificate the webhook serves (it makes a self-signed one at start).</summary>
    internal static RemoteCertificateValidationCallback TrustServed(WebhookHost host)
    {
        var served = host.Factory.Services.GetRequiredService<ServingCertificate>().Current!.GetCertHashString();
        return (_, certificate, _, _) => certificate?.GetCertHashString() == served;
    }

    internal static HttpClient HttpsClient(WebhookHost host) =>
        new(new SocketsHttpHandler { SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = TrustServed(host) } });

    private static async Task<SslStream> HandshakeAsync(WebhookHost host, TcpClient tcp)
    {
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, TrustServed(host));
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    private static bool CanHandshake(WebhookHost host)
    {
        try
        {
            using var tcp = new TcpClient();
            tcp.Connect(IPAddress.Loopback, host.HttpsPort);
            using var tls = HandshakeAsync(host, tcp).WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or TimeoutException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    /// <summary>Reads whatever the server sends until it closes the connection; a reset counts as closed.</summary>
    private static async Task<string> ReadUntilClosedAsync(Stream stream)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        catch (IOException)
        {
        }
        return text.ToString();
    }
}

public sealed class ShutdownTests
{
    [Fact]
    public async Task Shutdown_lets_an_in_flight_review_finish()
    {
        var host = await WebhookHost.StartAsync(kestrel: true);
        await using var stopped = host;
        host.Trust("acme+puller");
        host.Quay.Behaviour = QuayBehaviour.Delay(TimeSpan.FromSeconds(5));
        using var client = KestrelLimitTests.HttpsClient(host);
        using var body = new StringContent(Reviews.Create(Pods.Json(), uid: "in-flight"), Encoding.UTF8, "application/json");

        var review = client.PostAsync(new Uri($"https://localhost:{host.HttpsPort}/mutate"), body);
        Assert.True(await Eventually.TrueAsync(() => host.Quay.ExchangeCount > 0, HardeningHost.NoHang), "the exchange never started");
        Assert.False(review.IsCompleted);

        var stopping = host.Factory.DisposeAsync().AsTask();
        using var response = await review.WaitAsync(HardeningHost.NoHang);
        var result = await AdmissionResult.ReadAsync(response);
        await stopping.WaitAsync(HardeningHost.NoHang);

        Assert.Equal(HttpStatusCode.OK, result.Status);
        Assert.Equal("in-flight", result.Uid);
        Assert.True(result.Allowed, result.Body);
        Assert.True(result.HasPatch);
    }
}
