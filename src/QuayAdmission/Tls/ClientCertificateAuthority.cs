using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Tls;

/// <summary>
/// With <see cref="TlsOptions.ClientCaFile"/>, the only CA whose client certificates the HTTPS
/// listener accepts (the system's CAs are not consulted). Reloaded like the serving certificate;
/// a bad file keeps the last good CA.
/// </summary>
public sealed class ClientCertificateAuthority(IOptions<TlsOptions> options, TimeProvider time, ILogger<ClientCertificateAuthority> logger)
    : PolledTlsFiles(string.IsNullOrEmpty(options.Value.ClientCaFile) ? null : [options.Value.ClientCaFile], options.Value.PollInterval, time)
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly string? caFile = string.IsNullOrEmpty(options.Value.ClientCaFile) ? null : options.Value.ClientCaFile;
    private X509Certificate2Collection? current;

    /// <summary>True when clients must present a certificate.</summary>
    public bool Required => caFile is not null;

    /// <summary>The CA certificates in use; null until the file loads, and until then every client is refused.</summary>
    public X509Certificate2Collection? Current => Volatile.Read(ref current);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (caFile is not null)
        {
            TlsLog.ClientCertificatesRequired(logger, caFile);
            Reload();
        }
        else
        {
            TlsLog.ClientCertificatesNotChecked(logger);
        }
        return base.StartAsync(cancellationToken);
    }

    protected override bool Load(byte[][] contents)
    {
        var loaded = new X509Certificate2Collection();
        try
        {
            loaded.ImportFromPem(System.Text.Encoding.ASCII.GetString(contents[0]));
        }
        catch (CryptographicException e)
        {
            TlsLog.ClientCaRejected(logger, e.Message, Current is not null);
            return false;
        }
        if (loaded.Count == 0)
        {
            TlsLog.ClientCaRejected(logger, "the file holds no PEM certificate", Current is not null);
            return false;
        }
        Volatile.Write(ref current, loaded);
        TlsLog.ClientCaLoaded(logger, loaded.Count, loaded[0].Subject);
        return true;
    }

    protected override void Unreadable(string reason) => TlsLog.ClientCaUnreadable(logger, reason);

    /// <summary>
    /// Kestrel's client certificate check: the certificate must chain to the configured CA, be valid
    /// now and allowed for client authentication. The certificates of <paramref name="presented"/>
    /// (the chain Kestrel built from what the client sent) may serve as intermediates, never as roots.
    /// </summary>
    public bool Accepts(X509Certificate2 certificate, X509Chain? presented)
    {
        if (Current is not { } authorities)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        // Client certificates for the API server come from a cluster CA that publishes no revocation list.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        chain.ChainPolicy.VerificationTime = Time.GetUtcNow().UtcDateTime;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        }
        if (chain.Build(certificate))
            return true;
        TlsLog.ClientRefused(logger, certificate.Subject, chain.ChainStatus.FirstOrDefault().Status);
        return false;
    }
}
