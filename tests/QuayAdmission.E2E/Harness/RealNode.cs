using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// The real node of <c>shared/realnode</c>: a kubelet (v1.32) and containerd registered as
/// <c>realnode</c>, and the private registry https://quay.local that lets a pull through only with a robot
/// token signed by the key in <c>$REALNODE_DIR/quay-pub.pem</c> (the Quay stand-in writes its own there).
/// </summary>
internal sealed class RealNode : IDisposable
{
    public const string Name = "realnode";

    private readonly E2ELocations locations;
    private readonly HttpClient registry;

    private RealNode(E2ELocations locations)
    {
        this.locations = locations;
        registry = RegistryClient(Path.Combine(locations.RealnodeDir, "pki", "ca.crt"));
    }

    public string PublicKeyFile => Path.Combine(locations.RealnodeDir, "quay-pub.pem");

    public string KubeletLog => Path.Combine(locations.RealnodeDir, "logs", "kubelet.log");

    public string RegistryProxyLog => Path.Combine(locations.RealnodeDir, "logs", "registry-proxy.log");

    /// <summary>realnode/up.sh (idempotent: it also empties the node's cache of quay.local images).</summary>
    public static async Task<RealNode> StartAsync(E2ELocations locations, ScenarioLog log)
    {
        ArgumentNullException.ThrowIfNull(locations);
        var up = await ControlPlane.RunScriptAsync(locations, Path.Combine(locations.RealnodeScripts, "up.sh"), [], log);
        if (up.ExitCode != 0 || !up.Stdout.Contains("node-up", StringComparison.Ordinal))
            throw new InvalidOperationException($"realnode/up.sh failed (exit {up.ExitCode}):\n{ControlPlane.Tail(up.Stdout + up.Stderr, 40)}");
        log.Line("node realnode up");
        return new RealNode(locations);
    }

    public async Task StopAsync(ScenarioLog log)
    {
        var down = await ControlPlane.RunScriptAsync(locations, Path.Combine(locations.RealnodeScripts, "down.sh"), [], log);
        log.Line($"realnode/down.sh: exit {down.ExitCode}");
    }

    /// <summary><c>GET https://quay.local/_pulls</c>: every request the registry front saw, with its verdict.</summary>
    public async Task<IReadOnlyList<RegistryRequest>> PullsAsync()
    {
        var body = await registry.GetStringAsync(new Uri("https://quay.local/_pulls"));
        return RegistryRequest.ParseLog(body);
    }

    public void Dispose() => registry.Dispose();

    /// <summary>Trusts the node's own CA alone, and reaches quay.local on 127.0.0.1 whatever the resolver says.</summary>
    internal static HttpClient RegistryClient(string caFile)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 443), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 || !File.Exists(caFile))
                return false;
            using var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }
}

/// <summary>One request the registry front logged: when, what, by which robot (null: no credentials sent, as a client's first try before the challenge), and the verdict (<c>ok</c> or why not).</summary>
internal sealed record RegistryRequest(DateTimeOffset At, string Path, string? Robot, string Result)
{
    public bool Ok => Result == "ok";

    public static IReadOnlyList<RegistryRequest> ParseLog(string json) =>
        (JsonNode.Parse(json) as JsonArray ?? [])
            .OfType<JsonObject>()
            .Select(entry => new RegistryRequest(
                DateTimeOffset.FromUnixTimeMilliseconds((long)(entry["at"]!.GetValue<double>() * 1000)),
                entry["path"]?.GetValue<string>() ?? "",
                entry["robot"]?.GetValue<string>(),
                entry["result"]?.GetValue<string>() ?? ""))
            .ToList();

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{At:HH:mm:ss.f} {Robot ?? "(anonymous)"} {Path} {Result}");
}
