namespace QuayAdmission.PullSecrets;

/// <summary>Pull Secret events. Names, robots and reasons only: never a token.</summary>
internal static partial class PullSecretLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information,
        Message = "Wrote token to Secret {Namespace}/{Secret} for {Robot}, expires {ExpiresAt:O}, resourceVersion {ResourceVersion}")]
    public static partial void TokenWritten(ILogger logger, string @namespace, string secret, string robot, DateTimeOffset expiresAt, string resourceVersion);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning,
        Message = "No token for Secret {Namespace}/{Secret} ({Robot}): {Reason}")]
    public static partial void ProvisionFailed(ILogger logger, string @namespace, string secret, string robot, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning,
        Message = "Renewing Secret {Namespace}/{Secret} ({Robot}) failed, keeping the token valid until {ExpiresAt:O}: {Reason}")]
    public static partial void RenewalFailedKeptToken(ILogger logger, string @namespace, string secret, string robot, string reason, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information,
        Message = "Created placeholder Secret {Namespace}/{Secret} for {Robot}")]
    public static partial void PlaceholderCreated(ILogger logger, string @namespace, string secret, string robot);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning,
        Message = "Could not create placeholder Secret {Namespace}/{Secret}: {Reason}")]
    public static partial void PlaceholderFailed(ILogger logger, string @namespace, string secret, string reason);
}
