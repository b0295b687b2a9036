using System.Net;
using k8s.Models;
using Microsoft.Extensions.Options;
using QuayAdmission.Admission;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes;
using QuayAdmission.Kubernetes.Watching;
using QuayAdmission.Observability;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Robots;

namespace QuayAdmission.Refresh;

/// <summary>
/// Keeps managed Secrets right after admission, like a controller-runtime controller, on one
/// replica at a time (a Lease). Desired state comes from the Pods the webhook injected (their
/// robot references resolved as admission resolves them); actual state is the Secret cache.
/// Every Secret that changes, every Pod that lists one, and a periodic resync for time-based
/// decisions put the Secret's id on one rate-limited work queue, whose workers renew, fill,
/// re-create and delete through one path.
/// </summary>
public sealed class Refresher(
    KubernetesApi api,
    ManagedSecretCache secrets,
    PullSecretStore store,
    PullSecretProvisioner provisioner,
    RobotResolver resolver,
    RobotPolicy policy,
    EventRecorder events,
    BackgroundLoops loops,
    QuayMetrics metrics,
    TimeProvider time,
    IOptions<QuayOptions> quayOptions,
    IOptions<RefresherOptions> options,
    IOptions<TokenOptions> tokenOptions,
    IOptions<BackgroundOptions> backgroundOptions,
    IOptions<NamespaceOptions> namespaceOptions,
    ILogger<Refresher> logger) : BackgroundService
{
    public const string InjectedSelector = $"{WellKnown.InjectedLabel}={WellKnown.InjectedValue}";

    private const int PageSize = 500;

    private readonly RefresherOptions settings = options.Value;
    private readonly TokenOptions tokens = tokenOptions.Value;
    private readonly TenantInput tenantInput = new(policy, quayOptions.Value.Hosts);
    private readonly HashSet<string> excluded = namespaceOptions.Value.All.ToHashSet(StringComparer.Ordinal);
    private readonly DateTimeOffset started = time.GetUtcNow();
    private Term? term;
    private long resyncs;
    private long reconciled;

    /// <summary>Resyncs started while leading; with <see cref="IsIdle"/>, how tests know a round of work is over.</summary>
    public long Resyncs => Interlocked.Read(ref resyncs);

    public long Reconciled => Interlocked.Read(ref reconciled);

    /// <summary>True when this replica leads and nothing is due or in progress.</summary>
    public bool IsIdle => Volatile.Read(ref term) is { } current && current.Synced.IsCompleted && current.Queue.IsIdle;

    public bool IsLeading => Volatile.Read(ref term) is not null;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Enabled)
            return Task.CompletedTask;
        secrets.Changed += (old, changed) => Volatile.Read(ref term)?.Queue.Add((changed ?? old)!.Id);
        var elector = new LeaseElector(api, settings.Election, time, logger);
        return loops.RunAsync("leader-election", (_, ct) => elector.RunAsync(LeadAsync, Healthy, ct), stoppingToken);
    }

    /// <summary>
    /// False when a loop this replica's refreshing depends on has been failing for StallAfter:
    /// the elector then lets the Lease go (or does not take it), so a healthy replica does the work.
    /// </summary>
    private bool Healthy() =>
        !Stalled(secrets.Progress)
        && (Volatile.Read(ref term) is null || (!Stalled(loops.Progress(PodWatch)) && !Stalled(loops.Progress(Workers))));

    private bool Stalled(LoopProgress progress) =>
        progress.IsFailing && time.GetUtcNow() - (progress.LastSuccess ?? started) >= settings.StallAfter;

    private const string PodWatch = "pod-watch";
    private const string Workers = "refresher";
    private const string Resync = "resync";

    private async Task LeadAsync(CancellationToken leading)
    {
        RefreshLog.Leading(logger, settings.EffectiveIdentity, settings.LeaseName);
        var current = new Term(new WorkQueue(time, settings.BackoffBase, settings.BackoffMax), new PodIndex(),
            new Informer<PodView, InjectedPod>(api, InformerSources.Pods(InjectedSelector), InjectedPod.From, backgroundOptions.Value.Informer, metrics, time));
        current.Pods.Changed += (old, changed) =>
        {
            foreach (var id in current.Index.Update(old, changed))
                current.Queue.Add(id);
        };
        Volatile.Write(ref term, current);
        metrics.ObserveQueueDepth(() => current.Queue.Depth);
        metrics.ObserveManagedSecrets(() => Snapshot(current));
        try
        {
            var work = new List<Task>
            {
                loops.RunAsync(PodWatch, current.Pods.RunAsync, leading),
                loops.RunAsync(Resync, (progress, ct) => ResyncAsync(current, progress, ct), leading),
            };
            for (var i = 0; i < settings.Concurrency; i++)
                work.Add(loops.RunAsync(Workers, (progress, ct) => WorkAsync(current, progress, ct), leading));
            await Task.WhenAll(work);
        }
        finally
        {
            Volatile.Write(ref term, null);
            metrics.ObserveQueueDepth(null);
            metrics.ObserveManagedSecrets(null);
        }
    }

    /// <summary>Every Secret in the cache and every Secret a Pod lists, now and every Interval: time-based decisions need no event.</summary>
    private async Task ResyncAsync(Term current, LoopProgress progress, CancellationToken ct)
    {
        await current.WaitForSyncAsync(secrets, ct);
        using var timer = new PeriodicTimer(settings.Interval, time);
        do
        {
            foreach (var secret in secrets.Items)
                current.Queue.Add(secret.Id);
            foreach (var id in current.Index.SecretIds())
                current.Queue.Add(id);
            Interlocked.Increment(ref resyncs);
            progress.Succeeded();
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    private async Task WorkAsync(Term current, LoopProgress progress, CancellationToken ct)
    {
        await current.WaitForSyncAsync(secrets, ct);
        while (true)
        {
            var id = await current.Queue.TakeAsync(ct);
            try
            {
                await ReconcileAsync(current, id, ct);
                progress.Succeeded();
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                progress.Failed(e);
                current.Queue.AddRateLimited(id);
            }
            finally
            {
                current.Queue.Done(id);
                Interlocked.Increment(ref reconciled);
            }
        }
    }

    private async Task ReconcileAsync(Term current, string id, CancellationToken ct)
    {
        var (ns, name) = Split(id);
        if (excluded.Contains(ns))
        {
            // Admission never acts there, so neither does the refresher, whatever a Secret there claims.
            current.Queue.Forget(id);
            return;
        }
        var secret = secrets.Get(ns, name);
        var users = current.Index.Users(id);
        if (secret is null)
        {
            if (users.Count == 0 || await DesiredKeyAsync(users, name, ct) is not { } wanted)
            {
                current.Queue.Forget(id);
                return;
            }
            // A Pod lists the name and nothing is behind it: whatever removed it, put it back.
            RefreshLog.Missing(logger, ns, name, users[0].Name);
            await ProvideAsync(current, id, wanted, before: null, RefreshAction.Recreate, ct);
            return;
        }

        if (tenantInput.TryKeyOf(secret, out var refusal) is not { } key)
        {
            RefreshLog.Refused(logger, ns, name, refusal!);
            events.Warning("Secret", ns, name, "InvalidManagedSecret", $"Not refreshed: {refusal}");
            current.Queue.Forget(id);
            return;
        }

        var now = time.GetUtcNow();
        var action = RefreshPlan.Decide(secret, now, users.Count > 0, tokens.RefreshFraction, settings);
        if (action == RefreshAction.Delete && await ListedByAnyPodAsync(ns, name, ct))
        {
            // A Pod the label does not mark (admitted before it existed) still lists it: it is in use.
            action = RefreshPlan.Decide(secret, now, inUse: true, tokens.RefreshFraction, settings);
        }
        switch (action)
        {
            case RefreshAction.Delete:
                var deleted = await store.DeleteAsync(ns, name, secret.ResourceVersion!, ct);
                metrics.Deletion(deleted ? "ok" : "changed");
                if (deleted)
                    RefreshLog.Deleted(logger, ns, name);
                current.Queue.Forget(id);
                break;
            case RefreshAction.Renew or RefreshAction.Fill:
                await ProvideAsync(current, id, key, secret.ExpiresAt, action, ct);
                break;
            default:
                current.Queue.Forget(id);
                break;
        }
    }

    private async Task ProvideAsync(Term current, string id, PullSecretKey key, DateTimeOffset? before, RefreshAction action, CancellationToken ct)
    {
        // Anything that lasts past the token we saw is a renewal, ours or another writer's.
        var status = await provisioner.RenewAsync(key, (before ?? DateTimeOffset.MinValue).AddSeconds(1)).WaitAsync(ct);
        if (status is TokenStatus.Ready { RenewalError: null } ready && (before is null || ready.ExpiresAt > before))
        {
            metrics.Renewal("ok");
            current.Queue.Forget(id);
            if (action == RefreshAction.Fill)
                events.Normal("Secret", key.Namespace, key.SecretName, "PlaceholderFilled", $"Filled with a token for robot {key.Robot}, valid until {ready.ExpiresAt:u}");
            else if (action == RefreshAction.Recreate)
                events.Normal("Secret", key.Namespace, key.SecretName, "SecretRecreated", $"A Pod lists this Secret and it was missing: re-created with a token for robot {key.Robot}");
            return;
        }

        var reason = status switch
        {
            TokenStatus.Unavailable failure => failure.Reason,
            TokenStatus.Ready { RenewalError: { } error } => error,
            _ => "the token was not renewed",
        };
        metrics.Renewal("error");
        var failures = current.Queue.AddRateLimited(id);
        RefreshLog.RenewalFailed(logger, key.Namespace, key.SecretName, key.Robot, failures, reason);
        if (failures == settings.FailuresBeforeEvent)
            events.Warning("Secret", key.Namespace, key.SecretName, "RenewalFailing", $"Renewing the token for robot {key.Robot} failed {failures} times: {reason}");
        if (before is { } expires && expires - time.GetUtcNow() < tokens.MinRemaining)
            events.Warning("Secret", key.Namespace, key.SecretName, "TokenExpiringSoon", $"The token for robot {key.Robot} expires at {expires:u} and could not be renewed: {reason}");
    }

    /// <summary>The key whose Secret name a Pod lists, resolved as admission resolves it; null when no Pod's references produce that name.</summary>
    private async Task<PullSecretKey?> DesiredKeyAsync(IReadOnlyList<InjectedPod> users, string name, CancellationToken ct)
    {
        // Pods of one ServiceAccount resolve alike: one resolution per ServiceAccount is enough.
        foreach (var pod in users.DistinctBy(p => p.ServiceAccount).Take(MaxResolutions))
        {
            var keys = await resolver.KeysAsync(pod.Namespace, pod.ServiceAccount, pod.RobotAccounts, pod.Inject, settings.ScopeReadTimeout, ct);
            if (keys.FirstOrDefault(k => k.SecretName == name) is { } key)
                return key;
        }
        return null;
    }

    private const int MaxResolutions = 8;

    /// <summary>A fresh, paginated look at the namespace's Pods, labelled or not: nothing is deleted on the cache's word alone.</summary>
    private async Task<bool> ListedByAnyPodAsync(string ns, string name, CancellationToken ct)
    {
        KubernetesNames.RequireNamespace(ns);
        string? next = null;
        do
        {
            var page = await api.ListPodsAsync(ns, labelSelector: null, PageSize, next, ct);
            if (page.Items.Any(pod => pod.Status?.Phase is not ("Succeeded" or "Failed")
                && (pod.Spec?.ImagePullSecrets ?? []).Any(reference => reference.Name == name)))
                return true;
            next = page.Metadata?.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(next));
        return false;
    }

    /// <summary>At scrape time: Secrets in the cache, and the earliest expiry among the tokens some Pod lists.</summary>
    private ManagedSecretsSnapshot Snapshot(Term current)
    {
        var now = time.GetUtcNow();
        var count = 0;
        DateTimeOffset? earliest = null;
        foreach (var secret in secrets.Items)
        {
            count++;
            if (secret.ExpiresAt is { } expires && (earliest is null || expires < earliest) && current.Index.IsListed(secret.Id))
                earliest = expires;
        }
        return new ManagedSecretsSnapshot(count, (earliest - now)?.TotalSeconds);
    }

    private static (string Namespace, string Name) Split(string id)
    {
        var slash = id.IndexOf('/', StringComparison.Ordinal);
        return (id[..slash], id[(slash + 1)..]);
    }

    /// <summary>What one leadership term owns; a new term starts from fresh caches and an empty queue.</summary>
    private sealed class Term(WorkQueue queue, PodIndex index, Informer<PodView, InjectedPod> pods)
    {
        private readonly TaskCompletionSource synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public WorkQueue Queue { get; } = queue;

        public PodIndex Index { get; } = index;

        public Informer<PodView, InjectedPod> Pods { get; } = pods;

        public Task Synced => synced.Task;

        /// <summary>Nothing is decided before both caches hold a full list: an empty cache would look like "no Pod uses it".</summary>
        public async Task WaitForSyncAsync(ManagedSecretCache secrets, CancellationToken ct)
        {
            await Task.WhenAll(secrets.Synced, Pods.Synced).WaitAsync(ct);
            synced.TrySetResult();
        }
    }
}
