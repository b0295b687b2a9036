using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Tls;

/// <summary>The serving certificate follows its files the way a Secret volume updates them, without a restart.</summary>
public sealed class CertificateRotationTests : IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(10);
    private readonly SecretVolume volume = new();

    public void Dispose() => volume.Dispose();

    private Task<WebhookHost> StartAsync() => WebhookHost.StartAsync(
        new Dictionary<string, string?>
        {
            ["QuayAdmission:Tls:CertFile"] = volume.CertFile,
            ["QuayAdmission:Tls:KeyFile"] = volume.KeyFile,
            ["QuayAdmission:Tls:PollInterval"] = Poll.ToString(),
        },
        kestrel: true);

    [Fact]
    public async Task New_connections_get_the_new_certificate_and_a_corrupt_file_keeps_the_old()
    {
        volume.Publish(SelfSigned("CN=first"));
        await using var host = await StartAsync();
        Assert.Equal("CN=first", await ServedSubjectAsync(host.HttpsPort));
        Assert.Equal(4006, Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Id is 4001 or 4005 or 4006).Id.Id); // "from files", said once at start

        volume.Publish(SelfSigned("CN=second"));
        Assert.True(await Eventually.TrueAsync(() => Advanced(host) && ServedSubjectAsync(host.HttpsPort).Result == "CN=second"));

        var rejections = host.Logs.GetSnapshot().Count(r => r.Id.Id == 4003);
        volume.PublishRaw("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"u8.ToArray(), "garbage"u8.ToArray());
        Assert.True(await Eventually.TrueAsync(() => Advanced(host) && host.Logs.GetSnapshot().Count(r => r.Id.Id == 4003) > rejections));
        Assert.Equal("CN=second", await ServedSubjectAsync(host.HttpsPort));

        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HealthPort}") };
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Readyz_fails_until_a_certificate_is_loaded()
    {
        await using var host = await StartAsync(); // the files do not exist yet
        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.HealthPort}") };
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await health.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode);

        volume.Publish(SelfSigned("CN=late"));
        Assert.True(await Eventually.TrueAsync(() => Advanced(host) && health.GetAsync(new Uri("/readyz", UriKind.Relative)).Result.StatusCode == HttpStatusCode.OK));
        Assert.Equal("CN=late", await ServedSubjectAsync(host.HttpsPort));
    }

    [Theory]
    [InlineData(System.Security.Authentication.SslProtocols.Tls12)]
    [InlineData(System.Security.Authentication.SslProtocols.Tls13)]
    public async Task Tls_1_2_and_1_3_are_served(System.Security.Authentication.SslProtocols protocol)
    {
        // Whether 1.1 is refused cannot be shown from here: this machine's OpenSSL will not offer it at all.
        volume.Publish(SelfSigned("CN=first"));
        await using var host = await StartAsync();
        Assert.Equal(protocol, await NegotiatedAsync(host.HttpsPort, protocol));
    }

    private static bool Advanced(WebhookHost host)
    {
        host.Time.Advance(Poll);
        return true;
    }

    private static async Task<string> ServedSubjectAsync(int port) =>
        (await HandshakeAsync(port, System.Security.Authentication.SslProtocols.None)).Subject;

    private static async Task<System.Security.Authentication.SslProtocols> NegotiatedAsync(int port, System.Security.Authentication.SslProtocols protocols) =>
        (await HandshakeAsync(port, protocols)).Protocol;

    private static async Task<(string Subject, System.Security.Authentication.SslProtocols Protocol)> HandshakeAsync(int port, System.Security.Authentication.SslProtocols protocols)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        // The test reads which certificate is served; trusting it is not the point here.
#pragma warning disable CA5359
        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
#pragma warning restore CA5359
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = protocols });
        return (tls.RemoteCertificate!.Subject, tls.SslProtocol);
    }

    private static X509Certificate2 SelfSigned(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A directory laid out as kubelet lays out a Secret volume: files behind a <c>..data</c> symlink swapped atomically.</summary>
    private sealed class SecretVolume : IDisposable
    {
        private readonly string root = Directory.CreateTempSubdirectory("quay-admission-tls-").FullName;
        private int version;

        public string CertFile => Path.Combine(root, "tls.crt");
        public string KeyFile => Path.Combine(root, "tls.key");

        public void Publish(X509Certificate2 certificate) =>
            PublishRaw(
                System.Text.Encoding.ASCII.GetBytes(certificate.ExportCertificatePem()),
                System.Text.Encoding.ASCII.GetBytes(certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem()));

        public void PublishRaw(byte[] cert, byte[] key)
        {
            var dir = $"..v{++version}";
            Directory.CreateDirectory(Path.Combine(root, dir));
            File.WriteAllBytes(Path.Combine(root, dir, "tls.crt"), cert);
            File.WriteAllBytes(Path.Combine(root, dir, "tls.key"), key);
            var staging = Path.Combine(root, "..data_tmp");
            File.CreateSymbolicLink(staging, dir);
            // rename(2) of the link, as kubelet's atomic writer does; File.Move refuses a link to a directory.
            using (var mv = System.Diagnostics.Process.Start("mv", ["-T", staging, Path.Combine(root, "..data")]))
                mv.WaitForExit();
            foreach (var name in new[] { "tls.crt", "tls.key" })
            {
                if (!File.Exists(Path.Combine(root, name)))
                    File.CreateSymbolicLink(Path.Combine(root, name), Path.Combine("..data", name));
            }
        }

        public void Dispose() => Directory.Delete(root, recursive: true);
    }
}
