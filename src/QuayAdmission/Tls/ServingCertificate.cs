using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Tls;

/// <summary>
/// The certificate new TLS handshakes get. Polls the files and swaps only when their bytes change
/// (a Secret volume swaps a <c>..data</c> symlink, so file events are unreliable); a bad pair keeps the last good one.
/// </summary>
public sealed class ServingCertificate(IOptions<TlsOptions> options, TimeProvider time, ILogger<ServingCertificate> logger) : BackgroundService
{
    private readonly TlsOptions settings = options.Value;
    private X509Certificate2? current;
    private byte[] loadedCert = [];
    private byte[] loadedKey = [];

    public X509Certificate2? Current => Volatile.Read(ref current);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Load before Kestrel accepts connections, so the first handshake already has a certificate.
        if (settings.FromFiles)
            Reload();
        else
        {
            Volatile.Write(ref current, SelfSigned());
            TlsLog.SelfSigned(logger);
        }
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.FromFiles)
            return;
        using var timer = new PeriodicTimer(settings.PollInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            Reload();
    }

    /// <summary>Loads the files if their bytes changed. True when a new certificate is now served.</summary>
    public bool Reload()
    {
        byte[] cert, key;
        try
        {
            cert = File.ReadAllBytes(settings.CertFile!);
            key = File.ReadAllBytes(settings.KeyFile!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            TlsLog.Unreadable(logger, e.Message);
            return false;
        }
        if (cert.AsSpan().SequenceEqual(loadedCert) && key.AsSpan().SequenceEqual(loadedKey))
            return false;

        // Remember the bytes even when they fail, so a bad pair is reported once, not every poll.
        loadedCert = cert;
        loadedKey = key;
        try
        {
            var loaded = X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(cert), System.Text.Encoding.ASCII.GetString(key));
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

    private static X509Certificate2 SelfSigned()
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
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));
    }
}

internal static partial class TlsLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning,
        Message = "No QuayAdmission:Tls:CertFile/KeyFile configured: serving a self-signed certificate made at start (fine for a demo, not for a cluster)")]
    public static partial void SelfSigned(ILogger logger);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Serving certificate loaded: {Subject}, valid until {NotAfter:O}, thumbprint {Thumbprint}")]
    public static partial void Loaded(ILogger logger, string subject, DateTime notAfter, string thumbprint);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Error, Message = "Serving certificate files rejected ({Reason}); keeping the previous certificate: {KeptPrevious}")]
    public static partial void Rejected(ILogger logger, string reason, bool keptPrevious);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Serving certificate files cannot be read: {Reason}")]
    public static partial void Unreadable(ILogger logger, string reason);
}
