using System.Text;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// Watches as the API server's watch cache serves them: a 200 whose body is one JSON event per line,
/// <c>{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}</c>, flushed as events happen.
/// </summary>
public sealed partial class FakeKubernetesApi
{
    private static readonly byte[] EventEnd = "}\n"u8.ToArray();

    /// <summary>One thing to send: a change, or a bookmark at a resourceVersion.</summary>
    private readonly record struct WatchItem(Change? Change, long Bookmark = 0);

    /// <summary>
    /// <c>resourceVersion</c> unset or "0": synthetic ADDED events for what exists, then changes ("get state
    /// and start at most recent"). A resourceVersion: the retained changes after it, then new ones; one
    /// older than the history gets a 200 with one ERROR event (410 Expired) and the end of the stream.
    /// A label selector applies per event as in the watch cache: an object that stops matching is sent
    /// as DELETED, one that starts matching as ADDED. <c>timeoutSeconds</c> ends the stream cleanly.
    /// </summary>
    private async Task WatchAsync<T>(KubeObjectStore<T> store, HttpContext context, string operation, string? ns, bool truncate)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var query = context.Request.Query;
        var text = query["resourceVersion"].ToString();
        var problem = ParseSelectors(query, out var labels)
            ?? (text.Length > 0 && (!long.TryParse(text, out _) || text.StartsWith('-')) ? KubeStatus.BadRequest($"invalid resource version: \"{text}\"") : null);
        if (problem is not null)
        {
            await ReplyAsync(context, problem, truncate);
            return;
        }

        var from = text is "" or "0" ? (long?)null : long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        var bookmarks = IsTrue(query["allowWatchBookmarks"]);
        var timeout = query["timeoutSeconds"] is [var seconds] && int.TryParse(seconds, out var s) && s > 0 ? TimeSpan.FromSeconds(s) : Timeout.InfiniteTimeSpan;

        var channel = Channel.CreateUnbounded<WatchItem>(new UnboundedChannelOptions { SingleReader = true });
        void Offer(Change change) => channel.Writer.TryWrite(new WatchItem(change));

        long? expired = null;
        CancellationToken closing;
        TimeSpan interval;
        lock (_gate)
        {
            if (from is null)
            {
                foreach (var added in store.CurrentAsAdded())
                {
                    Offer(added);
                }
            }
            else if (from is { } version && version < store.Horizon)
            {
                expired = version;
            }
            else if (from is { } after)
            {
                store.ChangesAfter(after).ForEach(Offer);
            }

            store.Subscribe(Offer);
            _openWatches[operation] = _openWatches.GetValueOrDefault(operation) + 1;
            closing = _closeWatches.Token;
            interval = _bookmarkInterval;
        }

        var response = context.Response;
        var stopping = LoopbackServer.StoppingOf(context);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping, closing);
        ended.CancelAfter(timeout);
        using var bookmarkTimer = bookmarks
            ? new Timer(_ => Locked(() => channel.Writer.TryWrite(new WatchItem(null, _resourceVersion))), null, interval, interval)
            : null;
        try
        {
            if (truncate)
            {
                var line = BookmarkLine(store, Locked(() => _resourceVersion));
                await TruncatedResponse.SendAsync(context, 200, contentLength: null, line.AsMemory(0, line.Length / 2));
                return;
            }

            response.StatusCode = 200;
            response.ContentType = "application/json";
            // Headers go out at once, as the real API sends them before any event.
            await response.Body.FlushAsync(ended.Token);
            if (expired is { } tooOld)
            {
                var status = KubeStatus.TooOldResourceVersion(tooOld, Locked(() => store.Horizon));
                await response.Body.WriteAsync(Encoding.UTF8.GetBytes($"{{\"type\":\"ERROR\",\"object\":{KubeStatus.Serialize(status)}}}\n"), ended.Token);
                return;
            }

            var prefix = store.PrefixOf(ns);
            bool Passes(StoredObject? o) => o is not null && o.Key.StartsWith(prefix, StringComparison.Ordinal) && labels.Matches(o.Labels);
            while (await channel.Reader.WaitToReadAsync(ended.Token))
            {
                while (channel.Reader.TryRead(out var item))
                {
                    await WriteEventAsync(store, response.Body, item, Passes, ended.Token);
                }

                await response.Body.FlushAsync(ended.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && ended.IsCancellationRequested)
        {
            // Timeout, the client gone, CloseWatches: the response ends cleanly. A stopping server resets instead.
            if (stopping.IsCancellationRequested)
            {
                context.Abort();
            }
        }
        finally
        {
            lock (_gate)
            {
                store.Unsubscribe(Offer);
                _openWatches[operation]--;
            }
        }
    }

    /// <summary>Writes one event if this watcher should see it, deciding its type the way the watch cache does.</summary>
    private static async Task WriteEventAsync<T>(KubeObjectStore<T> store, Stream body, WatchItem item, Func<StoredObject?, bool> passes, CancellationToken ct)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        if (item.Change is not { } change)
        {
            await body.WriteAsync(BookmarkLine(store, item.Bookmark), ct);
            return;
        }

        var now = change.Type != ChangeType.Deleted && passes(change.Current);
        var before = passes(change.Previous);
        var (type, json) = (now, before) switch
        {
            (true, false) => ("ADDED", change.Current!.Json),
            (true, true) => ("MODIFIED", change.Current!.Json),
            (false, true) => ("DELETED", change.PreviousAtVersion),
            _ => ("", []),
        };
        if (type.Length == 0)
        {
            return;
        }

        await body.WriteAsync(Encoding.UTF8.GetBytes($"{{\"type\":\"{type}\",\"object\":"), ct);
        await body.WriteAsync(store.WithType(json), ct);
        await body.WriteAsync(EventEnd, ct);
    }

    /// <summary>A BOOKMARK as the real API sends it: an empty object of the kind with only its resourceVersion.</summary>
    private static byte[] BookmarkLine<T>(KubeObjectStore<T> store, long version)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        Encoding.UTF8.GetBytes(
            $"{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{store.Kind}\",\"apiVersion\":\"{store.ApiVersion}\"," +
            $"\"metadata\":{{\"resourceVersion\":\"{Format(version)}\",\"creationTimestamp\":null}}{store.EmptyFields}}}}}\n");
}
