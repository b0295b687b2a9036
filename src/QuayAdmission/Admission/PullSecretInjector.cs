using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.Observability;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Robots;

namespace QuayAdmission.Admission;

/// <summary>
/// One review from start to answer, around the pure <see cref="AdmissionDecision"/>: reads the
/// review's facts, looks up what the decision needs (the robot annotation that applies, the
/// tokens of its keys unless dry run), decides, then carries out the verdict (events, the log
/// line, metrics). All I/O is behind the resolver, the provisioner and the event recorder.
/// </summary>
public sealed class PullSecretInjector(
    PullSecretProvisioner provisioner,
    RobotResolver resolver,
    RobotPolicy policy,
    EventRecorder events,
    QuayMetrics metrics,
    IOptions<QuayOptions> quayOptions,
    IOptions<TokenOptions> tokenOptions,
    IOptions<NamespaceOptions> namespaceOptions,
    TimeProvider time,
    ILogger<PullSecretInjector> logger)
{
    private readonly IReadOnlyList<string> hosts = quayOptions.Value.Hosts;
    private readonly TimeSpan inlineBudget = tokenOptions.Value.InlineBudget;
    private readonly AdmissionRules rules = AdmissionRules.From(namespaceOptions.Value, tokenOptions.Value);

    /// <summary>Always an outcome: an unexpected failure is answered as <see cref="AdmissionDecision.Crashed"/> says.</summary>
    public async Task<AdmissionOutcome> DecideAsync(AdmissionRequest request, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        try
        {
            return await DecideAndCarryOutAsync(request, started, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            var outcome = AdmissionDecision.Crashed(rules);
            AdmissionLog.Crashed(logger, e, request.Uid!, outcome is AdmissionOutcome.Denied ? "denied" : "allowed");
            metrics.Admission(Describe(outcome), time.GetElapsedTime(started));
            return outcome;
        }
    }

    private async Task<AdmissionOutcome> DecideAndCarryOutAsync(AdmissionRequest request, long started, CancellationToken ct)
    {
        var review = ReviewFacts.Read(request);
        if (AdmissionDecision.Settle(review, rules) is { } settled)
            return CarryOut(request.Uid!, review, settled, RobotKeys.None, [], started);

        var pod = review.Pod!; // Settle answers every review without a readable Pod
        var annotation = await resolver.AnnotationAsync(pod.Namespace, pod.ServiceAccount, pod.RobotAccounts, pod.Inject, () => Remaining(started), ct);
        var keys = RobotKeys.Resolve(pod.Namespace, pod.ServiceAccount, annotation, hosts, policy);
        // Dry run must leave no trace: no TokenRequest, no exchange, no write.
        IReadOnlyList<TokenStatus> tokens = review.DryRun || keys.Keys.Count == 0
            ? []
            : await EnsureAsync(keys.Keys, Remaining(started), ct);
        return CarryOut(request.Uid!, review, AdmissionDecision.Decide(review, keys, tokens, rules), keys, tokens, started);
    }

    private Task<TokenStatus[]> EnsureAsync(IReadOnlyList<PullSecretKey> keys, TimeSpan budget, CancellationToken ct) =>
        Task.WhenAll(keys.Select(k => provisioner.EnsureAsync(k, budget, ct)));

    private AdmissionOutcome CarryOut(string uid, ReviewFacts review, Verdict verdict, RobotKeys keys, IReadOnlyList<TokenStatus> tokens, long started)
    {
        foreach (var (key, failure) in verdict.TokenFailures)
        {
            events.Warning("ServiceAccount", key.Namespace, key.ServiceAccount, "QuayTokenUnavailable",
                $"No Quay token for robot {key.Robot} on {key.RegistryHost}: {failure.Reason}");
        }

        var outcome = verdict.Outcome;
        var outcomeName = Describe(outcome);
        var elapsed = time.GetElapsedTime(started);
        switch (verdict.Grounds)
        {
            case AdmissionGrounds.ForeignNamespace:
                AdmissionLog.ForeignNamespace(logger, uid);
                break;
            case AdmissionGrounds.ExcludedNamespace:
                AdmissionLog.Excluded(logger, uid, review.Namespace!);
                break;
            case AdmissionGrounds.Unreadable:
                AdmissionLog.Malformed(logger, uid, review.Unreadable!);
                break;
            case AdmissionGrounds.Pod:
                var pod = review.Pod!;
                var robots = keys.Keys.Count == 0 ? "-" : string.Join(",", keys.Keys.Select(k => k.Robot));
                // Routine: every token it needed came from memory (or none was needed), nothing denied or degraded.
                var routine = outcome is not AdmissionOutcome.Denied && outcome.Warnings.Count == 0
                    && tokens.All(s => s is TokenStatus.Ready { FromCache: true });
                if (routine)
                    AdmissionLog.DecidedFromCache(logger, uid, pod.Namespace, pod.DisplayName, robots, outcomeName, review.DryRun, elapsed.TotalMilliseconds);
                else
                    AdmissionLog.Decided(logger, uid, pod.Namespace, pod.DisplayName, robots, outcomeName, review.DryRun, elapsed.TotalMilliseconds);
                break;
        }
        metrics.Admission(outcomeName, elapsed);
        return outcome;
    }

    private TimeSpan Remaining(long started)
    {
        var left = inlineBudget - time.GetElapsedTime(started);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private static string Describe(AdmissionOutcome outcome) => outcome switch
    {
        AdmissionOutcome.Patched { Operations.Count: > 0, Warnings.Count: > 0 } => "patched-degraded",
        AdmissionOutcome.Patched { Operations.Count: > 0 } => "patched",
        AdmissionOutcome.Denied => "denied",
        _ => "allowed",
    };
}
