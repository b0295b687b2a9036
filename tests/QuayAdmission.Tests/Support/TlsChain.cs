using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// A private PKI as a self-hosted Quay has one: a root CA, an intermediate CA it signed, and a server
/// certificate for 127.0.0.1 and localhost that the intermediate signed.
/// </summary>
public sealed class TlsChain : IDisposable
{
    private TlsChain(X509Certificate2 root, X509Certificate2 intermediate, X509Certificate2 leaf)
    {
        Root = root;
        Intermediate = intermediate;
        Leaf = leaf;
    }

    /// <summary>Public certificate only.</summary>
    public X509Certificate2 Root { get; }

    /// <summary>Public certificate only.</summary>
    public X509Certificate2 Intermediate { get; }

    /// <summary>With its private key, ready for Kestrel.</summary>
    public X509Certificate2 Leaf { get; }

    public static TlsChain Create()
    {
        // Real time: the TLS client checks validity against the real clock.
        var now = DateTimeOffset.UtcNow;
        var (notBefore, notAfter) = (now.AddMinutes(-5), now.AddDays(1));

        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = CaRequest("CN=QuayAdmission test root CA", rootKey);
        using var root = rootRequest.CreateSelfSigned(notBefore, notAfter);

        using var intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var intermediateRequest = CaRequest("CN=QuayAdmission test intermediate CA", intermediateKey);
        intermediateRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var intermediate = intermediateRequest.Create(root, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        using var intermediateWithKey = intermediate.CopyWithPrivateKey(intermediateKey);

        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=127.0.0.1", leafKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        leafRequest.CertificateExtensions.Add(names.Build());
        leafRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        leafRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        leafRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(intermediate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var leaf = leafRequest.Create(intermediateWithKey, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        using var leafWithKey = leaf.CopyWithPrivateKey(leafKey);

        return new TlsChain(
            X509CertificateLoader.LoadCertificate(root.RawData),
            X509CertificateLoader.LoadCertificate(intermediate.RawData),
            // Kestrel on Linux needs the private key in a form it can hand to OpenSSL: round-trip through PFX.
            X509CertificateLoader.LoadPkcs12(leafWithKey.Export(X509ContentType.Pfx), null));
    }

    /// <summary>Writes the certificates as one PEM file, as a registry's CaFile.</summary>
    public static string WritePem(string path, params X509Certificate2[] certificates)
    {
        File.WriteAllText(path, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")));
        return path;
    }

    public void Dispose()
    {
        Root.Dispose();
        Intermediate.Dispose();
        Leaf.Dispose();
    }

    private static CertificateRequest CaRequest(string subject, ECDsa key)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request;
    }
}
