namespace QuayAdmission.Admission;

/// <summary>
/// One line per admission decision; names and outcomes only, never a token. Decisions that minted,
/// read the API, degraded or denied are Information; the routine cache hit is Debug (and counted in metrics).
/// </summary>
internal static partial class AdmissionLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information,
        Message = "Admission {Uid} pod {Namespace}/{Pod}: {Outcome} robots={Robots} dryRun={DryRun} in {ElapsedMs:0.0} ms")]
    public static partial void Decided(ILogger logger, string uid, string @namespace, string pod, string robots, string outcome, bool dryRun, double elapsedMs);

    /// <summary>
    /// The routine decision: every token came from memory (or none was needed), nothing denied or
    /// degraded. Most admissions are this; at Information they would cost more CPU than the decision.
    /// </summary>
    [LoggerMessage(EventId = 1005, Level = LogLevel.Debug,
        Message = "Admission {Uid} pod {Namespace}/{Pod}: {Outcome} robots={Robots} dryRun={DryRun} in {ElapsedMs:0.0} ms (tokens cached)")]
    public static partial void DecidedFromCache(ILogger logger, string uid, string @namespace, string pod, string robots, string outcome, bool dryRun, double elapsedMs);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Admission {Uid}: the pod cannot be read: {Reason}")]
    public static partial void Malformed(ILogger logger, string uid, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Rejected review: {Status} {Reason}")]
    public static partial void BadReview(ILogger logger, int status, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "Admission {Uid} failed unexpectedly; answering {Answer}")]
    public static partial void Crashed(ILogger logger, Exception exception, string uid, string answer);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Admission {Uid}: namespace {Namespace} is excluded; allowed unchanged")]
    public static partial void Excluded(ILogger logger, string uid, string @namespace);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning,
        Message = "Admission {Uid}: the object's namespace differs from the request's, which kube-apiserver never sends; denied")]
    public static partial void ForeignNamespace(ILogger logger, string uid);
}
