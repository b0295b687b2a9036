using System.Security.Cryptography.X509Certificates;

namespace QuayAdmission.Tests.Support;

/// <summary>A throwaway CA and a serving certificate for 127.0.0.1, as certs/generate.sh makes for a dev cluster.</summary>
public sealed class DevCertificates
{
    private DevCertificates(X509Certificate2 ca, string certFile, string keyFile)
    {
        Ca = ca;
        CertFile = certFile;
        KeyFile = keyFile;
    }

    public X509Certificate2 Ca { get; }
    public string CertFile { get; }
    public string KeyFile { get; }

    public static DevCertificates Write(string directory)
    {
        using var ca = TestCertificates.CreateAuthority("quay-admission demo CA");
        using var leaf = TestCertificates.CreateServer(ca, "quay-admission.quay-admission.svc");
        var certFile = Path.Combine(directory, "tls.crt");
        var keyFile = Path.Combine(directory, "tls.key");
        File.WriteAllText(certFile, leaf.ExportCertificatePem());
        File.WriteAllText(keyFile, TestCertificates.PrivateKeyPem(leaf));
        return new DevCertificates(TestCertificates.PublicPart(ca), certFile, keyFile);
    }

    /// <summary>An HttpClient that trusts this CA and nothing else, as kube-apiserver trusts the caBundle.</summary>
    public HttpClient Client(int port)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (certificate is null || (errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{port}") };
    }
}
