namespace QuayAdmission.Refresh;

/// <summary>Refresher events: Secret names, robots and reasons, never a token.</summary>
internal static partial class RefreshLog
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "{Identity} holds the lease {Lease}: refreshing managed Secrets")]
    public static partial void Leading(ILogger logger, string identity, string lease);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Information, Message = "Deleted expired, unused Secret {Namespace}/{Secret}")]
    public static partial void Deleted(ILogger logger, string @namespace, string secret);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Warning, Message = "Renewing Secret {Namespace}/{Secret} ({Robot}) failed ({Failures} in a row): {Reason}")]
    public static partial void RenewalFailed(ILogger logger, string @namespace, string secret, string robot, int failures, string reason);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Warning, Message = "Secret {Namespace}/{Secret} is labelled as ours but is not refreshed: {Reason}")]
    public static partial void Refused(ILogger logger, string @namespace, string secret, string reason);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Information, Message = "Pod {Namespace}/{Pod} lists Secret {Secret}, which does not exist: creating it")]
    public static partial void Missing(ILogger logger, string @namespace, string secret, string pod);
}
