using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using k8s;
using QuayAdmission.E2E.Harness;
using QuayAdmission.Tests.Manifests;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>The kubelet-like identity's certificate, issued by a CA made as realk8s/up.sh makes its own (RSA, openssl's PEM).</summary>
public sealed class ClientCertificatesTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("e2e-certs-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void Issues_a_client_certificate_the_ca_signed_with_the_user_as_cn_and_the_groups_as_o()
    {
        var (caPem, caKeyPem) = Ca();
        var issued = ClientCertificates.Issue(caPem, caKeyPem, "e2e-kubelet-like", ["e2e:kubelet-like", "system:authenticated-ish"], TimeSpan.FromHours(1));

        using var certificate = X509Certificate2.CreateFromPem(issued.CertificatePem, issued.KeyPem);
        using var ca = X509Certificate2.CreateFromPem(caPem);
        Assert.Equal("e2e-kubelet-like", certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.Contains("O=e2e:kubelet-like", certificate.Subject, StringComparison.Ordinal);
        Assert.Contains("O=system:authenticated-ish", certificate.Subject, StringComparison.Ordinal);
        var usage = Assert.Single(certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>());
        Assert.Equal("1.3.6.1.5.5.7.3.2", Assert.Single(usage.EnhancedKeyUsages.Cast<Oid>()).Value);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(certificate), string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    [Fact]
    public void The_kubeconfig_is_owner_only_and_loads_as_that_client_certificate()
    {
        var (caPem, caKeyPem) = Ca();
        var caFile = Path.Combine(work, "ca.crt");
        File.WriteAllText(caFile, caPem);
        var issued = ClientCertificates.Issue(caPem, caKeyPem, "someone", [], TimeSpan.FromHours(1));

        var path = ClientCertificates.WriteKubeconfig(Path.Combine(work, "someone.kubeconfig"), ControlPlane.Server, caFile, "someone", issued);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        Assert.Equal(ControlPlane.Server, config.Host);
        Assert.Equal(Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(issued.CertificatePem)), config.ClientCertificateData);
        Assert.Single(config.SslCaCerts);
        // As ControlPlane and RealNode read the scripts' CA files: PEM, from the file.
        using var loaded = X509CertificateLoader.LoadCertificateFromFile(caFile);
        Assert.Equal("CN=realk8s-ca", loaded.Subject);
    }

    [Fact]
    public void A_token_kubeconfig_is_owner_only_and_carries_the_token()
    {
        var caFile = Path.Combine(work, "ca.crt");
        File.WriteAllText(caFile, Ca().CertificatePem);

        var path = Kubeconfigs.WriteWithToken(Path.Combine(work, "webhook.kubeconfig"), "https://127.0.0.1:41234", caFile, "quay-admission", "header.payload.signature");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        Assert.Equal("https://127.0.0.1:41234", config.Host);
        Assert.Equal("header.payload.signature", config.AccessToken);
    }

    [SkippableFact]
    public async Task Openssl_verifies_it_against_a_ca_made_with_up_sh_s_own_command()
    {
        // .ci/run installs openssl; the other tests cover the certificate without it.
        var openssl = ExternalTool.Require("openssl", "the client certificate is not verified against a CA up.sh's command makes");
        var caCrt = Path.Combine(work, "ca.crt");
        var caKey = Path.Combine(work, "ca.key");
        // realk8s/start.sh, "generating CA".
        var made = await ExternalTool.RunAsync(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
            "-keyout", caKey, "-out", caCrt, "-subj", "/CN=realk8s-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign"], work);
        Assert.True(made.ExitCode == 0, made.ToString());
        var issued = ClientCertificates.Issue(File.ReadAllText(caCrt), File.ReadAllText(caKey), "e2e-kubelet-like", ["e2e:kubelet-like"], TimeSpan.FromHours(1));
        var clientCrt = Path.Combine(work, "client.crt");
        File.WriteAllText(clientCrt, issued.CertificatePem);

        var verified = await ExternalTool.RunAsync(openssl, ["verify", "-CAfile", caCrt, "-purpose", "sslclient", clientCrt], work);

        Assert.True(verified.ExitCode == 0, verified.ToString());
    }

    /// <summary>As up.sh: a self-signed RSA CA with CA basic constraints and certificate signing.</summary>
    private static (string CertificatePem, string KeyPem) Ca()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=realk8s-ca", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
        return (ca.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }
}
