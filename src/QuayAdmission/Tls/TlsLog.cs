namespace QuayAdmission.Tls;

/// <summary>What the serving certificate and the client CA did; certificate subjects and files, never keys.</summary>
internal static partial class TlsLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning,
        Message = "No QuayAdmission:Tls:CertFile/KeyFile, and Tls:AllowSelfSigned=true: serving a self-signed certificate made at start, and ready (for a local run only: an API server cannot trust it)")]
    public static partial void SelfSigned(ILogger logger);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error,
        Message = "No QuayAdmission:Tls:CertFile/KeyFile configured: not ready (/readyz answers 503) and every TLS handshake fails. Mount the serving certificate, or set Tls:AllowSelfSigned=true for a local run")]
    public static partial void NoCertificate(ILogger logger);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "Serving certificate from {CertFile} and {KeyFile}: ready once they load")]
    public static partial void FromFiles(ILogger logger, string certFile, string keyFile);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Serving certificate loaded: {Subject}, valid until {NotAfter:O}, thumbprint {Thumbprint}")]
    public static partial void Loaded(ILogger logger, string subject, DateTime notAfter, string thumbprint);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Error, Message = "Serving certificate files rejected ({Reason}); keeping the previous certificate: {KeptPrevious}")]
    public static partial void Rejected(ILogger logger, string reason, bool keptPrevious);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Serving certificate files cannot be read: {Reason}")]
    public static partial void Unreadable(ILogger logger, string reason);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "Clients of the HTTPS listener must present a certificate issued by the CA in {CaFile}")]
    public static partial void ClientCertificatesRequired(ILogger logger, string caFile);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Information,
        Message = "No QuayAdmission:Tls:ClientCaFile: reviews are not authenticated; the namespace rules and the NetworkPolicy bound who can post one")]
    public static partial void ClientCertificatesNotChecked(ILogger logger);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Information, Message = "Client CA loaded: {Count} certificate(s), the first {Subject}")]
    public static partial void ClientCaLoaded(ILogger logger, int count, string subject);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Error, Message = "Client CA file rejected ({Reason}); keeping the previous CA: {KeptPrevious}")]
    public static partial void ClientCaRejected(ILogger logger, string reason, bool keptPrevious);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "Client CA file cannot be read: {Reason}")]
    public static partial void ClientCaUnreadable(ILogger logger, string reason);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "Client certificate {Subject} refused: {Status}")]
    public static partial void ClientRefused(ILogger logger, string subject, System.Security.Cryptography.X509Certificates.X509ChainStatusFlags status);
}
