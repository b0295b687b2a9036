using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// Throwaway ECDSA P-256 certificates for TLS on loopback: certificate authorities and the server
/// certificates they sign, for the Quay stand-in, the webhook's serving certificate and private PKIs.
/// Valid from five minutes ago for a day of real time: a TLS client checks validity against the real
/// clock, not a test's TimeProvider.
/// </summary>
public static class TestCertificates
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <summary>A CA (basic constraints, keyCertSign and cRLSign, a subject key id), self-signed or signed by <paramref name="issuer"/>; with its private key.</summary>
    public static X509Certificate2 CreateAuthority(string commonName, X509Certificate2? issuer = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var (notBefore, notAfter) = Validity(issuer);
        if (issuer is null)
        {
            using var selfSigned = request.CreateSelfSigned(notBefore, notAfter);
            return WithUsableKey(selfSigned);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var signed = request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        using var withKey = signed.CopyWithPrivateKey(key);
        return WithUsableKey(withKey);
    }

    /// <summary>A server certificate for 127.0.0.1 and localhost (digitalSignature, serverAuth) signed by <paramref name="issuer"/>; with its private key, ready for Kestrel.</summary>
    public static X509Certificate2 CreateServer(X509Certificate2 issuer, string commonName = "127.0.0.1")
    {
        ArgumentNullException.ThrowIfNull(issuer);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var (notBefore, notAfter) = Validity(issuer);
        using var signed = request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        using var withKey = signed.CopyWithPrivateKey(key);
        return WithUsableKey(withKey);
    }

    /// <summary>The certificate alone, without its private key.</summary>
    public static X509Certificate2 PublicPart(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return X509CertificateLoader.LoadCertificate(certificate.RawData);
    }

    /// <summary>The private key as PKCS#8 PEM, as a Secret's tls.key holds it.</summary>
    public static string PrivateKeyPem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var key = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException("the certificate has no ECDSA private key", nameof(certificate));
        return key.ExportPkcs8PrivateKeyPem();
    }

    // Within the issuer's own validity, which began a moment earlier.
    private static (DateTimeOffset NotBefore, DateTimeOffset NotAfter) Validity(X509Certificate2? issuer)
    {
        var now = DateTimeOffset.UtcNow;
        var (notBefore, notAfter) = (now.AddMinutes(-5), now.AddDays(1));
        if (issuer is null)
            return (notBefore, notAfter);
        var (issuerFrom, issuerUntil) = (new DateTimeOffset(issuer.NotBefore.ToUniversalTime()), new DateTimeOffset(issuer.NotAfter.ToUniversalTime()));
        return (notBefore < issuerFrom ? issuerFrom : notBefore, notAfter > issuerUntil ? issuerUntil : notAfter);
    }

    // Kestrel on Linux needs the private key in a form it can hand to OpenSSL: round-trip through PFX
    // (exportable, so the key can also be written as PEM).
    private static X509Certificate2 WithUsableKey(X509Certificate2 withKey) =>
        X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null, X509KeyStorageFlags.Exportable);
}
