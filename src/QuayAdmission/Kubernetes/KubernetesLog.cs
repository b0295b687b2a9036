namespace QuayAdmission.Kubernetes;

/// <summary>Events of the API plumbing: names, reasons and status codes, never a response body or a token.</summary>
internal static partial class KubernetesLog
{
    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "{Identity} holds the lease {Namespace}/{Lease}")]
    public static partial void Leading(ILogger logger, string identity, string @namespace, string lease);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "{Identity} lost the lease {Lease}: no renewal within the renew deadline")]
    public static partial void LostLease(ILogger logger, string identity, string lease);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "{Identity} lets go of the lease {Lease}: its work is not making progress")]
    public static partial void Stalled(ILogger logger, string identity, string lease);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "{Identity} released the lease {Lease}")]
    public static partial void Released(ILogger logger, string identity, string lease);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Warning, Message = "Could not release the lease {Lease} ({Error}); it expires by itself")]
    public static partial void ReleaseFailed(ILogger logger, string lease, string error);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Leader election on {Lease} is failing: {Error} (logged again when the error changes or it recovers)")]
    public static partial void ElectionFailing(ILogger logger, string lease, string error);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "Leader election on {Lease} recovered")]
    public static partial void ElectionRecovered(ILogger logger, string lease);
}
