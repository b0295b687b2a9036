using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace QuayAdmission.Quay;

/// <summary>
/// A registry's CaFile as a chain policy: its self-signed certificates are the only trust anchors
/// for that registry, its other certificates are intermediates, and the server's own intermediates
/// (added by the TLS stack during the handshake) may complete the chain.
/// </summary>
public static class RegistryTrust
{
    public static X509ChainPolicy ChainPolicy(string caFile)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            // A private CA rarely runs a revocation endpoint the nodes or the webhook can reach.
            RevocationMode = X509RevocationMode.NoCheck,
        };
        foreach (var certificate in Load(caFile))
            (IsSelfSigned(certificate) ? policy.CustomTrustStore : policy.ExtraStore).Add(certificate);
        return policy;
    }

    /// <summary>Why <paramref name="caFile"/> cannot anchor trust, or null when it can.</summary>
    public static string? Problem(string caFile)
    {
        try
        {
            var certificates = Load(caFile);
            if (certificates.Count == 0)
                return $"'{caFile}' holds no PEM certificate";
            return certificates.Any(IsSelfSigned)
                ? null
                : $"'{caFile}' holds no root (self-signed) certificate: intermediates alone cannot anchor trust, add the root CA";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return $"'{caFile}' cannot be read: {e.Message}";
        }
    }

    private static X509Certificate2Collection Load(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        return certificates;
    }

    private static bool IsSelfSigned(X509Certificate2 certificate) =>
        certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);
}
