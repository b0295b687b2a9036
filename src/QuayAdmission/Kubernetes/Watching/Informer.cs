using System.Collections.Concurrent;
using System.Net;
using k8s;
using k8s.Models;
using QuayAdmission.Background;
using QuayAdmission.Observability;

namespace QuayAdmission.Kubernetes.Watching;

/// <summary>
/// A cache of one resource kept current by list and watch, client-go's reflector and store in
/// small: a paginated list (<c>limit</c>/<c>continue</c>), then a watch from the list's
/// resourceVersion with bookmarks, resumed from the last resourceVersion seen after a fault, and a
/// fresh list only when the API answers 410 Gone. Written here because KubernetesClient.Aot has
/// no Watcher. It keeps a projection of each object, not the object: only what its readers need.
/// </summary>
public sealed class Informer<TObject, TItem>
    where TObject : IKubernetesObject<V1ObjectMeta>
    where TItem : class
{
    private const int PageSize = 500;

    private readonly KubernetesApi api;
    private readonly InformerSource<TObject> source;
    private readonly Func<TObject, TItem?> project;
    private readonly WatchClient watch;
    private readonly InformerSettings settings;
    private readonly QuayMetrics metrics;
    private readonly TimeProvider time;
    private readonly ConcurrentDictionary<string, Entry> items = new(StringComparer.Ordinal);
    // Changes are applied one at a time: the watch on the informer's task, Remember on a writer's.
    private readonly Lock gate = new();
    private readonly TaskCompletionSource synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? resourceVersion;

    public Informer(KubernetesApi api, InformerSource<TObject> source, Func<TObject, TItem?> project, InformerSettings settings, QuayMetrics metrics, TimeProvider time)
    {
        this.api = api;
        this.source = source;
        this.project = project;
        this.settings = settings;
        this.metrics = metrics;
        this.time = time;
        watch = new WatchClient(api);
    }

    /// <summary>
    /// (old, new) after every change: (null, x) added, (x, null) deleted. Called in order on the
    /// informer's own task, and on the caller's for <see cref="Remember"/>: handlers must be thread-safe.
    /// </summary>
    public event Action<TItem?, TItem?>? Changed;

    /// <summary>True once a full list has been applied; stays true through outages (the cache is then stale, not empty).</summary>
    public bool HasSynced => synced.Task.IsCompleted;

    /// <summary>Completes when the first full list has been applied.</summary>
    public Task Synced => synced.Task;

    public TItem? Get(string ns, string name) => items.GetValueOrDefault(Key(ns, name)).Item;

    public IEnumerable<TItem> Items => items.Values.Select(e => e.Item!);

    /// <summary>
    /// Takes an object this process just wrote, so its own readers see it before the watch event
    /// arrives, unless the cache already holds a later version of it (the watch was faster): a write
    /// never moves the cache backwards.
    /// </summary>
    public void Remember(TObject written) => Apply(written, remembered: true);

    /// <summary>
    /// Lists (if it has nothing to resume from) and watches until a fault, which it leaves to its
    /// supervisor. As client-go's reflector: a watch that ends within <see cref="MinWatchDuration"/>
    /// without an event, and a resourceVersion the API no longer has (410) or does not have yet (504),
    /// are retried after a backoff (<see cref="Backoff.Reflector"/>), so a server that ends every
    /// watch at once, or expires every resourceVersion, costs a request now and then, not a loop.
    /// </summary>
    public async Task RunAsync(LoopProgress progress, CancellationToken ct)
    {
        var troubled = 0;
        while (!ct.IsCancellationRequested)
        {
            if (troubled > 0)
                await Task.Delay(Backoff.Reflector.Delay(troubled), time, ct);
            if (resourceVersion is null)
            {
                await RelistAsync(ct);
                progress.Succeeded();
            }
            var started = time.GetTimestamp();
            try
            {
                var events = await WatchAsync(progress, ct);
                if (events == 0 && time.GetElapsedTime(started) < MinWatchDuration)
                {
                    troubled++;
                    metrics.WatchRestart(source.Resource, "short");
                    continue;
                }
                troubled = 0;
                metrics.WatchRestart(source.Resource, "timeout");
            }
            catch (WatchFailedException e) when (e.Status is HttpStatusCode.Gone or HttpStatusCode.GatewayTimeout)
            {
                // 410: the history we would resume from is compacted away; 504: a resourceVersion newer
                // than the API server's (another etcd, a restore). Only a new list can catch up.
                resourceVersion = null;
                troubled++;
                metrics.WatchRestart(source.Resource, "gone");
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                metrics.WatchRestart(source.Resource, "error");
                throw;
            }
        }
    }

    /// <summary>client-go's "very short watch": one that ends sooner, with no event, counts as trouble.</summary>
    public static readonly TimeSpan MinWatchDuration = TimeSpan.FromSeconds(1);

    private async Task RelistAsync(CancellationToken ct)
    {
        // Projections only: holding every full object until the last page cost ~700 MB at 100,000 Pods.
        var seen = new Dictionary<string, Entry>(StringComparer.Ordinal);
        string? next = null;
        string listVersion;
        while (true)
        {
            ListPage<TObject> page;
            try
            {
                page = await source.List(api, next, PageSize, ct);
            }
            catch (Exception e) when (next is not null && e.IsStatus(HttpStatusCode.Gone))
            {
                // The continue token outlived its snapshot: start the list again from a fresh one.
                seen.Clear();
                next = null;
                continue;
            }
            foreach (var item in page.Items)
                seen[Key(item.Metadata.NamespaceProperty, item.Metadata.Name)] = new Entry(project(item), Version(item));
            listVersion = page.ResourceVersion;
            if (string.IsNullOrEmpty(page.Continue))
                break;
            next = page.Continue;
        }

        foreach (var key in items.Keys.Where(key => !seen.ContainsKey(key)).ToList())
            Apply(key, new Entry(null, 0), remembered: false);
        foreach (var (key, projected) in seen)
            Apply(key, projected, remembered: false);
        resourceVersion = listVersion;
        synced.TrySetResult();
    }

    /// <summary>One watch from <see cref="resourceVersion"/>; the number of events it brought.</summary>
    private async Task<int> WatchAsync(LoopProgress progress, CancellationToken ct)
    {
        // Like client-go: a random server-side timeout spreads reconnects; the client-side bound
        // only catches a server that stops talking without closing the stream.
        var timeout = settings.WatchTimeout * (1 + Random.Shared.NextDouble());
        using var bound = new CancellationTokenSource(timeout + settings.WatchGrace, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, bound.Token);
        var query = $"watch=true&allowWatchBookmarks=true&timeoutSeconds={(int)timeout.TotalSeconds}&resourceVersion={Uri.EscapeDataString(resourceVersion!)}";
        if (source.LabelSelector is { } selector)
            query += $"&labelSelector={Uri.EscapeDataString(selector)}";
        var events = 0;
        try
        {
            return await watch.ReadAsync($"{source.ListPath}?{query}", line =>
            {
                OnEvent(line, progress);
                events++;
            }, linked.Token);
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // Silence past the timeout we asked for: reconnect from the last resourceVersion.
            return events;
        }
    }

    private void OnEvent(WatchLine line, LoopProgress progress)
    {
        switch (line.Type)
        {
            case WatchLine.Added or WatchLine.Modified:
                var changed = source.Decode(line.Object.GetRawText());
                Apply(changed);
                resourceVersion = changed.Metadata.ResourceVersion;
                break;
            case WatchLine.Deleted:
                var deleted = source.Decode(line.Object.GetRawText());
                Apply(Key(deleted.Metadata.NamespaceProperty, deleted.Metadata.Name), new Entry(null, Version(deleted)), remembered: false);
                resourceVersion = deleted.Metadata.ResourceVersion;
                break;
            case WatchLine.Bookmark:
                resourceVersion = line.ResourceVersion ?? resourceVersion;
                break;
            case WatchLine.Error:
                throw new WatchFailedException(line.StatusCode is { } code ? (HttpStatusCode)code : HttpStatusCode.InternalServerError);
            default:
                throw new WatchFailedException($"unknown watch event type {line.Type}");
        }
        progress.Succeeded();
    }

    private void Apply(TObject value, bool remembered = false) =>
        Apply(Key(value.Metadata.NamespaceProperty, value.Metadata.Name), new Entry(project(value), Version(value)), remembered);

    /// <summary>Stores or (a null item) removes the entry, and says so to <see cref="Changed"/>.</summary>
    private void Apply(string key, Entry entry, bool remembered)
    {
        lock (gate)
        {
            var known = items.TryGetValue(key, out var old);
            // The API's own order (list, watch) is the truth; only a remembered write can be older than what is here.
            if (remembered && known && old.Version > entry.Version)
                return;
            if (entry.Item is null)
            {
                if (known && items.TryRemove(key, out _))
                    Changed?.Invoke(old.Item, null);
                return;
            }
            items[key] = entry;
            Changed?.Invoke(known ? old.Item : null, entry.Item);
        }
    }

    /// <summary>resourceVersions are opaque to clients, but every API server on etcd issues increasing integers; anything else compares as 0.</summary>
    private static ulong Version(TObject value) =>
        ulong.TryParse(value.Metadata.ResourceVersion, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version) ? version : 0;

    /// <summary>A projection and the resourceVersion of the object it was taken from.</summary>
    private readonly record struct Entry(TItem? Item, ulong Version);

    private static string Key(string? ns, string name) => $"{ns}/{name}";
}

/// <summary>Watch timing: the server-side timeout asked for (randomised up to twice this) and how long past it the client waits.</summary>
public sealed record InformerSettings(TimeSpan WatchTimeout, TimeSpan WatchGrace)
{
    public static InformerSettings Default { get; } = new(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30));
}
