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
        using var root = TestCertificates.CreateAuthority("QuayAdmission test root CA");
        using var intermediate = TestCertificates.CreateAuthority("QuayAdmission test intermediate CA", root);
        return new TlsChain(TestCertificates.PublicPart(root), TestCertificates.PublicPart(intermediate), TestCertificates.CreateServer(intermediate));
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
}
