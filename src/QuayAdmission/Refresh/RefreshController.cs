using Microsoft.Extensions.Options;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes;
using QuayAdmission.Kubernetes.Watching;
using QuayAdmission.Observability;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Refresh;

/// <summary>
/// The refresher as a controller-runtime controller, on one replica at a time (a Lease). Each
/// leadership term starts from a fresh injected-Pod informer and <see cref="PodIndex"/>, an empty
/// work queue and a reconciler over that index; the managed-Secret cache is shared with admission.
/// Every Secret that changes and every Pod that lists one put the Secret's id on the queue, whose
/// workers hand it to the reconciler and map its result to the queue as controller-runtime does.
/// Time-based work comes back when the reconciler scheduled it; a resync every Interval is only
/// the safety net. Only this class calls the queue's Forget, AddRateLimited and AddAfter.
/// </summary>
/// <param name="reconcilerFor">The reconciler of a term, over that term's Pod index.</param>
public sealed class RefreshController(
    KubernetesApi api,
    ManagedSecretCache secrets,
    Func<PodIndex, IReconciler> reconcilerFor,
    BackgroundLoops loops,
    QuayMetrics metrics,
    TimeProvider time,
    IOptions<RefresherOptions> options,
    IOptions<BackgroundOptions> backgroundOptions,
    ILogger<RefreshController> logger) : BackgroundService
{
    public const string InjectedSelector = $"{WellKnown.InjectedLabel}={WellKnown.InjectedValue}";

    private const string PodWatch = "pod-watch";
    private const string Workers = "refresher";
    private const string Resync = "resync";

    private readonly RefresherOptions settings = options.Value;
    private readonly DateTimeOffset started = time.GetUtcNow();
    private Term? term;
    private long resyncs;

    /// <summary>Resyncs started while leading; with <see cref="IsIdle"/>, how tests know a round of work is over.</summary>
    public long Resyncs => Interlocked.Read(ref resyncs);

    /// <summary>True when this replica leads and nothing is due or in progress (keys scheduled for later may wait).</summary>
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
    /// Works one key: reconciles it, maps the result to the queue as controller-runtime does, and
    /// hands the key back. Done: the key's failures are forgotten. Retry, or an exception: it backs
    /// off (an exception is also a fault of the worker loop, which StallAfter watches). After: its
    /// failures are forgotten and it is due again after the delay.
    /// </summary>
    internal static async Task ProcessAsync(WorkQueue queue, IReconciler reconciler, string id, LoopProgress progress, CancellationToken ct)
    {
        try
        {
            ReconcileResult result;
            try
            {
                result = await reconciler.ReconcileAsync(id, ct);
                progress.Succeeded();
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                progress.Failed(e);
                result = new ReconcileResult.Retry(KubernetesErrors.Describe(e));
            }

            switch (result)
            {
                case ReconcileResult.Done:
                    queue.Forget(id);
                    break;
                case ReconcileResult.Retry retry:
                    var failures = queue.AddRateLimited(id, retry.NotBefore);
                    retry.Failed?.Invoke(failures);
                    break;
                case ReconcileResult.After after:
                    queue.Forget(id);
                    queue.AddAfter(id, after.Delay);
                    break;
            }
        }
        finally
        {
            queue.Done(id);
        }
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

    private async Task LeadAsync(CancellationToken leading)
    {
        RefreshLog.Leading(logger, settings.EffectiveIdentity, settings.LeaseName);
        var index = new PodIndex();
        var current = new Term(
            new WorkQueue(time, settings.BackoffBase, settings.BackoffMax),
            index,
            new Informer<PodView, InjectedPod>(api, InformerSources.Pods(InjectedSelector), InjectedPod.From, backgroundOptions.Value.Informer, metrics, time),
            reconcilerFor(index));
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

    /// <summary>
    /// Every Secret in the cache and every Secret a Pod lists, now and every Interval (from the
    /// cache: no LIST). The reconciler schedules renewals and collection itself; this catches
    /// whatever an event or a schedule missed.
    /// </summary>
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
            await ProcessAsync(current.Queue, current.Reconciler, await current.Queue.TakeAsync(ct), progress, ct);
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

    /// <summary>What one leadership term owns; a new term starts from fresh caches and an empty queue.</summary>
    private sealed class Term(WorkQueue queue, PodIndex index, Informer<PodView, InjectedPod> pods, IReconciler reconciler)
    {
        private readonly TaskCompletionSource synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public WorkQueue Queue { get; } = queue;

        public PodIndex Index { get; } = index;

        public Informer<PodView, InjectedPod> Pods { get; } = pods;

        public IReconciler Reconciler { get; } = reconciler;

        public Task Synced => synced.Task;

        /// <summary>Nothing is decided before both caches hold a full list: an empty cache would look like "no Pod uses it".</summary>
        public async Task WaitForSyncAsync(ManagedSecretCache secrets, CancellationToken ct)
        {
            await Task.WhenAll(secrets.Synced, Pods.Synced).WaitAsync(ct);
            synced.TrySetResult();
        }
    }
}
