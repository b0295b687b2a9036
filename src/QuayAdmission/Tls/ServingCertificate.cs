using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Tls;

/// <summary>
/// The certificate new TLS handshakes get. Polls the files and swaps only when their bytes change;
/// a bad pair keeps the last good one. Without files, a self-signed one only when the operator allowed it.
/// </summary>
public sealed class ServingCertificate(IOptions<TlsOptions> options, TimeProvider time, ILogger<ServingCertificate> logger)
    : PolledTlsFiles(options.Value.FromFiles ? [options.Value.CertFile!, options.Value.KeyFile!] : null, options.Value.PollInterval, time)
{
    private readonly TlsOptions settings = options.Value;
    private X509Certificate2? current;

    /// <summary>Null until a certificate is loaded: handshakes fail and <c>/readyz</c> answers 503.</summary>
    public X509Certificate2? Current => Volatile.Read(ref current);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Load before Kestrel accepts connections, so the first handshake already has a certificate.
        if (settings.FromFiles)
        {
            TlsLog.FromFiles(logger, settings.CertFile!, settings.KeyFile!);
            Reload();
        }
        else if (settings.AllowSelfSigned)
        {
            Volatile.Write(ref current, SelfSigned());
            TlsLog.SelfSigned(logger);
        }
        else
        {
            TlsLog.NoCertificate(logger);
        }
        return base.StartAsync(cancellationToken);
    }

    protected override bool Load(byte[][] contents)
    {
        try
        {
            var loaded = X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(contents[0]), System.Text.Encoding.ASCII.GetString(contents[1]));
            Volatile.Write(ref current, loaded);
            TlsLog.Loaded(logger, loaded.Subject, loaded.NotAfter, loaded.Thumbprint);
            return true;
        }
        catch (CryptographicException e)
        {
            TlsLog.Rejected(logger, e.Message, Current is not null);
            return false;
        }
    }

    protected override void Unreadable(string reason) => TlsLog.Unreadable(logger, reason);

    private X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=quay-admission", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddDnsName("quay-admission.quay-admission.svc");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = Time.GetUtcNow();
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
    }
}
