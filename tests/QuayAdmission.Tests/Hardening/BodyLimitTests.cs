using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using QuayAdmission.Admission;
using QuayAdmission.Hosting;
using QuayAdmission.Tests.Support;
using Xunit.Abstractions;

namespace QuayAdmission.Tests.Hardening;

/// <summary>
/// Review bodies over the real Kestrel: the bytes held at once are bounded by the budget, a stalled
/// body is cut, and a normal review is answered whatever slow clients do. Loopback only.
/// </summary>
public sealed class BodyLimitTests
{
    private const int Prefix = 3 * 1024 * 1024;

    [Fact]
    public async Task A_body_past_the_budget_is_answered_503_at_once_and_a_small_review_still_passes()
    {
        await using var host = await WebhookHost.StartAsync(new Dictionary<string, string?>
        {
            ["QuayAdmission:Server:MaxBodyBytesInFlight"] = AdmissionEndpoint.MaxBodyBytes.ToString(CultureInfo.InvariantCulture),
        }, kestrel: true);
        host.Trust("acme+puller");
        var budget = Budget(host);

        await using (var stalled = await StalledBody.OpenAsync(host, Prefix))
        {
            Assert.True(await Eventually.TrueAsync(() => budget.InFlight == Prefix, HardeningHost.NoHang), $"in flight: {budget.InFlight}");

            var big = await PostAsync(host, new string('x', 1024 * 1024));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, big.Status);
            Assert.Equal("too many review bodies are being read at once; retry\n", big.Body);

            var normal = await PostAsync(host, Reviews.Create(Pods.Json(), uid: "still-served"));
            Assert.Equal("still-served", normal.Uid);
            Assert.True(normal.HasPatch, normal.Body);
            Assert.Equal(Prefix, budget.InFlight);
        }

        // The stalled client went away: what it held is returned.
        Assert.True(await Eventually.TrueAsync(() => budget.InFlight == 0, HardeningHost.NoHang), $"in flight: {budget.InFlight}");
    }

    [Fact]
    public async Task A_stalled_body_is_cut_and_its_bytes_returned()
    {
        await using var host = await WebhookHost.StartAsync(kestrel: true);
        var budget = Budget(host);

        // 100 bytes, then nothing: below the minimum rate as soon as the grace period (2 s) ends.
        await using var stalled = await StalledBody.OpenAsync(host, 100);

        // Kestrel keeps real time for the data rate; the bound is generous, it only proves the connection does not stay open.
        var answer = await stalled.ReadUntilClosedAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), answer);
        Assert.True(await Eventually.TrueAsync(() => budget.InFlight == 0, HardeningHost.NoHang), $"in flight: {budget.InFlight}");
    }

    internal static BodyBudget Budget(WebhookHost host) => host.Factory.Services.GetRequiredService<BodyBudget>();

    internal static async Task<AdmissionResult> PostAsync(WebhookHost host, string body)
    {
        using var client = KestrelLimitTests.HttpsClient(host);
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri($"https://localhost:{host.HttpsPort}/mutate"), content);
        return await AdmissionResult.ReadAsync(response);
    }
}

/// <summary>
/// Many slow clients at once: the managed heap stays under the ceiling <see cref="ServerOptions"/>
/// states. Serial, since it measures the whole process's heap.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class StalledConnectionMemoryTests(ITestOutputHelper output)
{
    private const int Connections = 40;
    private const int Prefix = 3 * 1024 * 1024;

    // This process is also the clients: each holds a TLS stream and a response buffer.
    private const long ClientBytesPerConnection = 64 * 1024;

    [Fact]
    public async Task Many_stalled_bodies_stay_under_the_memory_ceiling_and_a_review_is_still_answered()
    {
        await using var host = await WebhookHost.StartAsync(kestrel: true);
        host.Trust("acme+puller");
        var budget = BodyLimitTests.Budget(host);
        var server = host.Factory.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        Assert.Equal("warm", (await BodyLimitTests.PostAsync(host, Reviews.Create(Pods.Json(), uid: "warm"))).Uid);
        var payload = StalledBody.Payload(Prefix);
        var baseline = GC.GetTotalMemory(forceFullCollection: true);

        var stalled = new List<StalledBody>();
        try
        {
            for (var i = 0; i < Connections; i++)
                stalled.Add(await StalledBody.OpenAsync(host, Prefix, payload));

            // Settled: every client was either refused (503) or has all it sent held in the budget.
            var settled = await Eventually.TrueAsync(() =>
            {
                var refused = stalled.Count(s => s.Answered);
                return budget.InFlight % Prefix == 0 && budget.InFlight / Prefix + refused == Connections;
            }, HardeningHost.NoHang);
            Assert.True(settled, $"in flight {budget.InFlight}, refused {stalled.Count(s => s.Answered)}");
            Assert.All(stalled.Where(s => s.Answered), s => Assert.StartsWith("HTTP/1.1 503", s.Answer, StringComparison.Ordinal));

            var growth = GC.GetTotalMemory(forceFullCollection: true) - baseline;
            var ceiling = 2 * server.MaxBodyBytesInFlight + Connections * (2L * ServerOptions.ConnectionInputBytes + ClientBytesPerConnection);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Connections} clients sent {Prefix / 1024} KiB each and stalled: {budget.InFlight / Prefix} held ({budget.InFlight / 1024} KiB), {stalled.Count(s => s.Answered)} refused; heap +{growth / 1024} KiB, ceiling {ceiling / 1024} KiB"));
            Assert.InRange(growth, long.MinValue, ceiling);

            var normal = await BodyLimitTests.PostAsync(host, Reviews.Create(Pods.Json(), uid: "answered"));
            Assert.Equal("answered", normal.Uid);
            Assert.True(normal.HasPatch, normal.Body);
        }
        finally
        {
            foreach (var connection in stalled)
                await connection.DisposeAsync();
        }
        Assert.True(await Eventually.TrueAsync(() => budget.InFlight == 0, HardeningHost.NoHang), $"in flight: {budget.InFlight}");
    }
}

/// <summary>A TLS connection that announces a review of the largest size, sends part of it and stops.</summary>
internal sealed class StalledBody : IAsyncDisposable
{
    private readonly TcpClient tcp;
    private readonly SslStream tls;
    private readonly Task<string> reading;

    private StalledBody(TcpClient tcp, SslStream tls)
    {
        this.tcp = tcp;
        this.tls = tls;
        reading = ReadAllAsync();
    }

    public bool Answered => reading.IsCompleted || Answer.Length > 0;

    /// <summary>What the server has sent so far.</summary>
    public string Answer { get; private set; } = "";

    public static byte[] Payload(int length) => Encoding.ASCII.GetBytes(new string(' ', length));

    public static async Task<StalledBody> OpenAsync(WebhookHost host, int prefix, byte[]? payload = null)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, host.HttpsPort);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, KestrelLimitTests.TrustServed(host));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        var headers = $"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {AdmissionEndpoint.MaxBodyBytes}\r\n\r\n";
        await tls.WriteAsync(Encoding.ASCII.GetBytes(headers));
        // JSON whitespace: valid so far, never finished.
        await tls.WriteAsync((payload ?? Payload(prefix)).AsMemory(0, prefix));
        await tls.FlushAsync();
        return new StalledBody(tcp, tls);
    }

    public Task<string> ReadUntilClosedAsync() => reading;

    private async Task<string> ReadAllAsync()
    {
        var buffer = new byte[1024];
        try
        {
            int read;
            while ((read = await tls.ReadAsync(buffer)) > 0)
                Answer += Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        return Answer;
    }

    public async ValueTask DisposeAsync()
    {
        await tls.DisposeAsync();
        tcp.Dispose();
        await reading;
    }
}
