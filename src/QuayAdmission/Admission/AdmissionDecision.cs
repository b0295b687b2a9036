using QuayAdmission.Patching;
using QuayAdmission.PullSecrets;
using QuayAdmission.Robots;

namespace QuayAdmission.Admission;

/// <summary>What configuration says about every review: the namespaces never acted in, and what a missing token means.</summary>
public sealed record AdmissionRules(IReadOnlySet<string> ExcludedNamespaces, TokenFailurePolicy OnTokenFailure)
{
    public static AdmissionRules From(NamespaceOptions namespaces, TokenOptions tokens) =>
        new(namespaces.All.ToHashSet(StringComparer.Ordinal), tokens.OnTokenFailure);
}

/// <summary>Why a review got its answer, for the line the orchestrator logs.</summary>
public enum AdmissionGrounds
{
    /// <summary>The object names another namespace than the request: a forged review.</summary>
    ForeignNamespace,

    /// <summary>A namespace the webhook never acts in.</summary>
    ExcludedNamespace,

    /// <summary>Not a Pod CREATE: nothing to do.</summary>
    NotPodCreate,

    /// <summary>The Pod cannot be read.</summary>
    Unreadable,

    /// <summary>Decided on the Pod itself: a mirror Pod, its robot references and their tokens.</summary>
    Pod,
}

/// <summary>A key admission has no token for, to be reported (an event on its ServiceAccount).</summary>
public sealed record TokenFailure(PullSecretKey Key, TokenStatus.Unavailable Status);

/// <summary>
/// The answer and what to report: the keys whose missing token the answer is about (every one when
/// the Pod is admitted, the one named when it is denied).
/// </summary>
public sealed record Verdict(AdmissionOutcome Outcome, AdmissionGrounds Grounds, IReadOnlyList<TokenFailure> TokenFailures)
{
    public Verdict(AdmissionOutcome outcome, AdmissionGrounds grounds)
        : this(outcome, grounds, [])
    {
    }
}

/// <summary>
/// The decision for one review, as a pure function of what was read and looked up: the review's
/// facts, the keys its robot annotation resolved to, the state of their tokens, and the rules. No
/// I/O, no clock: <see cref="PullSecretInjector"/> gathers the inputs and carries out the verdict.
/// </summary>
public static class AdmissionDecision
{
    // Kubernetes shows warnings to people in kubectl output; longer ones get cut or wrapped.
    internal const int MaxWarningLength = 119;

    /// <summary>
    /// The verdict when the review alone settles it, before any lookup: forged, excluded, not a Pod
    /// CREATE, unreadable, or a mirror Pod. Null when the Pod's robot annotation has to be looked up.
    /// </summary>
    public static Verdict? Settle(ReviewFacts review, AdmissionRules rules)
    {
        if (review.ForeignNamespace)
        {
            return new(new AdmissionOutcome.Denied(400,
                "the object's metadata.namespace differs from the request's namespace; kube-apiserver never sends such a review"), AdmissionGrounds.ForeignNamespace);
        }
        if (review.Namespace is { } ns && rules.ExcludedNamespaces.Contains(ns))
            return new(new AdmissionOutcome.Allowed(), AdmissionGrounds.ExcludedNamespace);
        if (!review.IsPodCreate)
            return new(new AdmissionOutcome.Allowed(), AdmissionGrounds.NotPodCreate);
        if (review.Pod is null)
            return new(new AdmissionOutcome.Denied(400, review.Unreadable ?? "the pod cannot be read"), AdmissionGrounds.Unreadable);
        if (review.Pod.IsMirror)
            return new(new AdmissionOutcome.Allowed(), AdmissionGrounds.Pod);
        return null;
    }

    /// <summary>
    /// The verdict. <paramref name="tokens"/> holds one status per key, in order; on a dry run none
    /// is asked for (no TokenRequest, no exchange, no write) and the patch is the same, since the
    /// Secret names are deterministic.
    /// </summary>
    public static Verdict Decide(ReviewFacts review, RobotKeys keys, IReadOnlyList<TokenStatus> tokens, AdmissionRules rules)
    {
        if (Settle(review, rules) is { } settled)
            return settled;
        var pod = review.Pod!; // Settle answers every review without a readable Pod
        if (keys.Refusal is { } refusal)
            return new(new AdmissionOutcome.Denied(refusal.Code, refusal.Message), AdmissionGrounds.Pod);
        if (keys.Keys.Count == 0)
            return new(new AdmissionOutcome.Allowed(), AdmissionGrounds.Pod);
        if (!review.DryRun && tokens.Count != keys.Keys.Count)
            throw new ArgumentException($"{tokens.Count} token statuses for {keys.Keys.Count} keys", nameof(tokens));

        var warnings = new List<string>();
        List<TokenFailure>? failures = null;
        for (var i = 0; !review.DryRun && i < keys.Keys.Count; i++)
        {
            if (tokens[i] is not TokenStatus.Unavailable failure)
                continue;
            var key = keys.Keys[i];
            if (rules.OnTokenFailure == TokenFailurePolicy.Deny)
            {
                return new(new AdmissionOutcome.Denied(failure.Refused ? 403 : 503, $"no Quay token for {key.Robot}{NextTry(failure)}: {failure.Reason}"),
                    AdmissionGrounds.Pod, [new TokenFailure(key, failure)]);
            }
            (failures ??= []).Add(new TokenFailure(key, failure));
            warnings.Add(Warning(key, failure));
        }

        var operations = ImagePullSecretsPatch.Build(pod.PullSecrets, keys.Keys.Select(k => k.SecretName))
            .Concat(InjectedLabelPatch.Build(pod.InjectedLabel))
            .ToList();
        return new(new AdmissionOutcome.Patched(operations, warnings), AdmissionGrounds.Pod, failures ?? []);
    }

    /// <summary>
    /// The answer when deciding failed unexpectedly: the same stance as the webhook's failure policy,
    /// open by default (the Pod admitted unchanged, with a warning), closed when the operator chose Deny.
    /// </summary>
    public static AdmissionOutcome Crashed(AdmissionRules rules) => rules.OnTokenFailure == TokenFailurePolicy.Deny
        ? new AdmissionOutcome.Denied(500, "quay-admission: internal error")
        : new AdmissionOutcome.Allowed(["quay-admission: internal error; pod admitted unchanged"]);

    private static string Warning(PullSecretKey key, TokenStatus.Unavailable failure)
    {
        // The retry time comes before the reason, which is the part cut when too long.
        var warning = $"quay-admission: no token yet for {key.Robot}{NextTry(failure)} ({failure.Reason})";
        return warning.Length <= MaxWarningLength ? warning : warning[..(MaxWarningLength - 4)] + "...)";
    }

    private static string NextTry(TokenStatus.Unavailable failure) =>
        failure.RetryAt is { } at ? $", next try after {at.UtcDateTime:HH:mm:ss}Z" : "";
}
