using Microsoft.Extensions.Options;
using QuayAdmission.Admission;
using QuayAdmission.Kubernetes;
using QuayAdmission.Observability;
using QuayAdmission.PullSecrets;
using QuayAdmission.Robots;
using static QuayAdmission.Refresh.ReconcileResult;

namespace QuayAdmission.Refresh;

/// <summary>
/// The refresher's rules for one managed Secret. Desired state is the Pods that list it (their
/// robot references resolved as admission resolves them); actual state is the Secret cache. It
/// renews, fills, re-creates and deletes, and answers when the Secret needs its next look: a
/// renewal's due time, a collection time, or a retry. One per leadership term, over that term's
/// <see cref="PodIndex"/>; <see cref="RefreshController"/> runs it.
/// </summary>
public sealed class SecretReconciler(
    PodIndex pods,
    ManagedSecretCache secrets,
    ITokenRenewer renewer,
    ISecretDeleter deleter,
    IPodLister podLister,
    RobotResolver resolver,
    TenantInput tenantInput,
    IEventRecorder events,
    QuayMetrics metrics,
    TimeProvider time,
    IOptions<RefresherOptions> options,
    IOptions<TokenOptions> tokenOptions,
    IOptions<NamespaceOptions> namespaceOptions,
    ILogger<SecretReconciler> logger) : IReconciler
{
    private const int PageSize = 500;

    // Pods of one ServiceAccount resolve alike: a few resolutions tell whether any Pod still wants the name.
    private const int MaxResolutions = 8;

    private readonly RefresherOptions settings = options.Value;
    private readonly TokenOptions tokens = tokenOptions.Value;
    private readonly HashSet<string> excluded = namespaceOptions.Value.All.ToHashSet(StringComparer.Ordinal);

    public async Task<ReconcileResult> ReconcileAsync(string id, CancellationToken ct)
    {
        var (ns, name) = Split(id);
        if (excluded.Contains(ns))
        {
            // Admission never acts there, so neither does the refresher, whatever a Secret there claims.
            return new Done();
        }
        var secret = secrets.Get(ns, name);
        var users = pods.Users(id);
        if (secret is null)
        {
            if (users.Count == 0 || await DesiredKeyAsync(users, name, ct) is not { } wanted)
                return new Done();
            // A Pod lists the name and nothing is behind it: whatever removed it, put it back.
            RefreshLog.Missing(logger, ns, name, users[0].Name);
            return await ProvideAsync(wanted, before: null, RefreshAction.Recreate, ct);
        }

        if (tenantInput.TryKeyOf(secret, out var refusal) is not { } key)
        {
            RefreshLog.Refused(logger, ns, name, refusal!);
            events.Warning("Secret", ns, name, "InvalidManagedSecret", $"Not refreshed: {refusal}");
            return new Done();
        }

        var now = time.GetUtcNow();
        var decision = RefreshPlan.Decide(secret, now, users.Count > 0, tokens.RefreshFraction, settings);
        if (decision.Action == RefreshAction.Delete && await ListedByAnyPodAsync(ns, name, ct))
        {
            // A Pod the label does not mark (admitted before it existed) still lists it: it is in use.
            decision = RefreshPlan.Decide(secret, now, inUse: true, tokens.RefreshFraction, settings);
        }
        return decision.Action switch
        {
            RefreshAction.Delete => await DeleteAsync(secret, ct),
            RefreshAction.Renew or RefreshAction.Fill => await ProvideAsync(key, secret.ExpiresAt, decision.Action, ct),
            _ => new After(decision.LookAgainAt!.Value - now),
        };
    }

    private async Task<ReconcileResult> DeleteAsync(ManagedSecret secret, CancellationToken ct)
    {
        var deleted = await deleter.DeleteAsync(secret.Namespace, secret.Name, secret.ResourceVersion!, ct);
        metrics.Deletion(deleted ? "ok" : "changed");
        if (deleted)
            RefreshLog.Deleted(logger, secret.Namespace, secret.Name);
        // Changed meanwhile: the watch brings the change, and the change brings the next look.
        return new Done();
    }

    private async Task<ReconcileResult> ProvideAsync(PullSecretKey key, DateTimeOffset? before, RefreshAction action, CancellationToken ct)
    {
        // Anything that lasts past the token we saw is a renewal, ours or another writer's.
        var status = await renewer.RenewAsync(key, (before ?? DateTimeOffset.MinValue).AddSeconds(1)).WaitAsync(ct);
        if (status is TokenStatus.Ready { RenewalError: null } ready && (before is null || ready.ExpiresAt > before))
        {
            metrics.Renewal("ok");
            if (action == RefreshAction.Fill)
                events.Normal("Secret", key.Namespace, key.SecretName, "PlaceholderFilled", $"Filled with a token for robot {key.Robot}, valid until {ready.ExpiresAt:u}");
            else if (action == RefreshAction.Recreate)
                events.Normal("Secret", key.Namespace, key.SecretName, "SecretRecreated", $"A Pod lists this Secret and it was missing: re-created with a token for robot {key.Robot}");
            return new After(RenewalDue(key, ready.ExpiresAt) - time.GetUtcNow());
        }

        var reason = status switch
        {
            TokenStatus.Unavailable failure => failure.Reason,
            TokenStatus.Ready { RenewalError: { } error } => error,
            _ => "the token was not renewed",
        };
        metrics.Renewal("error");
        if (before is { } expires && expires - time.GetUtcNow() < tokens.MinRemaining)
            events.Warning("Secret", key.Namespace, key.SecretName, "TokenExpiringSoon", $"The token for robot {key.Robot} expires at {expires:u} and could not be renewed: {reason}");
        return new Retry(reason, failures =>
        {
            RefreshLog.RenewalFailed(logger, key.Namespace, key.SecretName, key.Robot, failures, reason);
            if (failures == settings.FailuresBeforeEvent)
                events.Warning("Secret", key.Namespace, key.SecretName, "RenewalFailing", $"Renewing the token for robot {key.Robot} failed {failures} times: {reason}");
        }, NotBefore: (status as TokenStatus.Unavailable)?.RetryAfter);
    }

    /// <summary>
    /// When the token just written is renewed in its turn: from its iat as the cache holds it (the
    /// provisioner remembers what it writes), else from now, when a token just minted was issued.
    /// </summary>
    private DateTimeOffset RenewalDue(PullSecretKey key, DateTimeOffset expiresAt)
    {
        var issued = secrets.Get(key.Namespace, key.SecretName) is { ExpiresAt: var written, IssuedAt: { } iat } && written == expiresAt
            ? iat
            : time.GetUtcNow();
        return RefreshPlan.RenewalDue(issued, expiresAt, tokens.RefreshFraction);
    }

    /// <summary>The key whose Secret name a Pod lists, resolved as admission resolves it; null when no Pod's references produce that name.</summary>
    private async Task<PullSecretKey?> DesiredKeyAsync(IReadOnlyList<InjectedPod> users, string name, CancellationToken ct)
    {
        foreach (var pod in users.DistinctBy(p => p.ServiceAccount).Take(MaxResolutions))
        {
            var keys = await resolver.KeysAsync(pod.Namespace, pod.ServiceAccount, pod.RobotAccounts, pod.Inject, settings.ScopeReadTimeout, ct);
            if (keys.FirstOrDefault(k => k.SecretName == name) is { } key)
                return key;
        }
        return null;
    }

    /// <summary>A fresh, paginated look at the namespace's Pods, labelled or not: nothing is deleted on the cache's word alone.</summary>
    private async Task<bool> ListedByAnyPodAsync(string ns, string name, CancellationToken ct)
    {
        KubernetesNames.RequireNamespace(ns);
        string? next = null;
        do
        {
            var page = await podLister.ListPodsAsync(ns, labelSelector: null, PageSize, next, ct);
            if (page.Items.Any(pod => pod.Status?.Phase is not ("Succeeded" or "Failed")
                && (pod.Spec?.ImagePullSecrets ?? []).Any(reference => reference.Name == name)))
                return true;
            next = page.Metadata?.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(next));
        return false;
    }

    private static (string Namespace, string Name) Split(string id)
    {
        var slash = id.IndexOf('/', StringComparison.Ordinal);
        return (id[..slash], id[(slash + 1)..]);
    }
}
