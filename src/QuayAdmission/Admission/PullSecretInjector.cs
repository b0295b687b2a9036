using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.Observability;
using QuayAdmission.Patching;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Scopes;

namespace QuayAdmission.Admission;

/// <summary>
/// The decision for one review: which pull Secrets a Pod needs, making sure they hold tokens
/// (unless dry run), and the patch that lists them. All I/O is behind the provisioner, the scope
/// reader and the event recorder.
/// </summary>
public sealed class PullSecretInjector(
    NamespaceRules namespaces,
    PullSecretProvisioner provisioner,
    RobotResolver resolver,
    RobotPolicy policy,
    EventRecorder events,
    QuayMetrics metrics,
    IOptions<QuayOptions> quayOptions,
    IOptions<TokenOptions> tokenOptions,
    TimeProvider time,
    ILogger<PullSecretInjector> logger)
{
    // Kubernetes shows warnings to people in kubectl output; longer ones get cut or wrapped.
    private const int MaxWarningLength = 119;

    private readonly IReadOnlyList<string> hosts = quayOptions.Value.Hosts;
    private readonly TokenOptions tokens = tokenOptions.Value;

    public async Task<AdmissionOutcome> DecideAsync(AdmissionRequest request, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        if (namespaces.Settle(request) is { } settled)
            return Counted(settled, started);
        if (!IsPodCreate(request))
            return Counted(new AdmissionOutcome.Allowed(), started);

        PodFacts pod;
        try
        {
            pod = PodFacts.Read(request);
        }
        catch (PodShapeException e)
        {
            AdmissionLog.Malformed(logger, request.Uid!, e.Message);
            return Counted(new AdmissionOutcome.Denied(400, e.Message), started);
        }

        var dryRun = request.DryRun == true;
        var (outcome, robots, fromCache) = await DecideForPodAsync(pod, dryRun, started, ct);
        var elapsed = time.GetElapsedTime(started);
        var outcomeName = Describe(outcome);
        if (fromCache && outcome is not AdmissionOutcome.Denied && outcome.Warnings.Count == 0)
            AdmissionLog.DecidedFromCache(logger, request.Uid!, pod.Namespace, pod.DisplayName, robots, outcomeName, dryRun, elapsed.TotalMilliseconds);
        else
            AdmissionLog.Decided(logger, request.Uid!, pod.Namespace, pod.DisplayName, robots, outcomeName, dryRun, elapsed.TotalMilliseconds);
        metrics.Admission(outcomeName, elapsed);
        return outcome;
    }

    /// <summary>The outcome, the robots for the log line, and whether every token it needed came from memory.</summary>
    private async Task<(AdmissionOutcome Outcome, string Robots, bool FromCache)> DecideForPodAsync(PodFacts pod, bool dryRun, long started, CancellationToken ct)
    {
        if (pod.IsMirror)
            return (new AdmissionOutcome.Allowed(), "-", true);
        var (annotation, origin) = await resolver.AnnotationAsync(pod.Namespace, pod.ServiceAccount, pod.RobotAccounts, pod.Inject, () => Remaining(started), ct);
        if (annotation is null)
            return (new AdmissionOutcome.Allowed(), "-", true);

        if (!RobotReferenceParser.TryParse(annotation, hosts, out var references, out var error))
            return (Refuse(origin, error!), "-", true);
        if (policy.Check(pod.Namespace, references) is { } forbidden)
            return (Refuse(origin, forbidden), "-", true);

        var keys = references.Select(r => new PullSecretKey(pod.Namespace, pod.ServiceAccount, r.RegistryHost, r.Robot)).ToList();
        var robots = string.Join(",", references.Select(r => r.Robot));

        var warnings = new List<string>();
        var fromCache = true;
        if (!dryRun)
        {
            // Dry run must leave no trace: no TokenRequest, no exchange, no write. The name is deterministic, so the patch is the same.
            var budget = Remaining(started);
            var statuses = await Task.WhenAll(keys.Select(k => provisioner.EnsureAsync(k, budget, ct)));
            fromCache = statuses.All(s => s is TokenStatus.Ready { FromCache: true });
            foreach (var (key, status) in keys.Zip(statuses))
            {
                if (status is not TokenStatus.Unavailable failure)
                    continue;
                events.Warning("ServiceAccount", key.Namespace, key.ServiceAccount, "QuayTokenUnavailable",
                    $"No Quay token for robot {key.Robot} on {key.RegistryHost}: {failure.Reason}");
                if (tokens.OnTokenFailure == TokenFailurePolicy.Deny)
                    return (new AdmissionOutcome.Denied(failure.Refused ? 403 : 503, $"no Quay token for {key.Robot}{NextTry(failure)}: {failure.Reason}"), robots, false);
                warnings.Add(Warning(key, failure));
            }
        }

        var operations = ImagePullSecretsPatch.Build(pod.PullSecrets, keys.Select(k => k.SecretName))
            .Concat(InjectedLabelPatch.Build(pod.InjectedLabel))
            .ToList();
        return (new AdmissionOutcome.Patched(operations, warnings), robots, fromCache);
    }

    private static AdmissionOutcome.Denied Refuse(string? origin, ReferenceError error) =>
        new(error.Code, origin is null ? error.Message : $"{origin}: {error.Message}");

    private TimeSpan Remaining(long started)
    {
        var left = tokens.InlineBudget - time.GetElapsedTime(started);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private AdmissionOutcome Counted(AdmissionOutcome outcome, long started)
    {
        metrics.Admission(Describe(outcome), time.GetElapsedTime(started));
        return outcome;
    }

    private static bool IsPodCreate(AdmissionRequest request) =>
        request.Kind is { Group: "" or null, Kind: "Pod" }
        && request.Operation == "CREATE"
        && string.IsNullOrEmpty(request.SubResource);

    private static string Warning(PullSecretKey key, TokenStatus.Unavailable failure)
    {
        // The retry time comes before the reason, which is the part cut when too long.
        var warning = $"quay-admission: no token yet for {key.Robot}{NextTry(failure)} ({failure.Reason})";
        return warning.Length <= MaxWarningLength ? warning : warning[..(MaxWarningLength - 4)] + "...)";
    }

    private static string NextTry(TokenStatus.Unavailable failure) =>
        failure.RetryAt is { } at ? $", next try after {at.UtcDateTime:HH:mm:ss}Z" : "";

    private static string Describe(AdmissionOutcome outcome) => outcome switch
    {
        AdmissionOutcome.Patched { Operations.Count: > 0, Warnings.Count: > 0 } => "patched-degraded",
        AdmissionOutcome.Patched { Operations.Count: > 0 } => "patched",
        AdmissionOutcome.Denied => "denied",
        _ => "allowed",
    };
}
