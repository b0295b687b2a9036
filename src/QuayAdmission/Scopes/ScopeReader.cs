using System.Collections.Concurrent;
using System.Net;
using k8s.Models;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Scopes;

/// <summary>
/// Our annotations on one ServiceAccount or Namespace, and its uid (the owner of a ServiceAccount's
/// pull Secrets); null when absent, unreadable or, for the uid, not shaped like one.
/// </summary>
public sealed record ScopeAnnotations(string? RobotAccounts, string? Inject, string? Uid = null)
{
    public static readonly ScopeAnnotations None = new(null, null);

    public static ScopeAnnotations From(V1ObjectMeta? metadata)
    {
        var annotations = metadata?.Annotations;
        return new(
            annotations is not null && annotations.TryGetValue(WellKnown.RobotAccountAnnotation, out var robots) ? robots : null,
            annotations is not null && annotations.TryGetValue(WellKnown.InjectAnnotation, out var inject) ? inject : null,
            IsUid(metadata?.Uid) ? metadata!.Uid : null);
    }

    /// <summary>
    /// The API server's uids are RFC 4122 UUIDs in their 36-character form. The value goes into an
    /// ownerReference, so anything else (a tampered or odd answer) is treated as unknown.
    /// </summary>
    public static bool IsUid(string? value) => value is { Length: 36 } && Guid.TryParseExact(value, "D", out _);
}

/// <summary>
/// ServiceAccount and Namespace annotations (and uids), cached so the warm admission path makes no API call.
/// An entry older than ScopeCacheTtl is still served while one background read refreshes it.
/// </summary>
public sealed class ScopeReader(
    KubernetesApi api, IMemoryCache cache, TimeProvider time, IOptions<ScopeOptions> options, ILogger<ScopeReader> logger)
{
    // Deleted ServiceAccounts and Namespaces leave the cache once nobody asked for them a while.
    private static readonly TimeSpan Idle = TimeSpan.FromHours(1);

    private readonly TimeSpan ttl = options.Value.ScopeCacheTtl;
    private readonly ConcurrentDictionary<ScopeKey, Task<ScopeAnnotations>> inflight = new();

    public Task<ScopeAnnotations> ServiceAccountAsync(string ns, string name, TimeSpan wait, CancellationToken ct) =>
        GetAsync(new ScopeKey("ServiceAccount", ns, name), wait, ct);

    public Task<ScopeAnnotations> NamespaceAsync(string ns, TimeSpan wait, CancellationToken ct) =>
        GetAsync(new ScopeKey("Namespace", "", ns), wait, ct);

    private async Task<ScopeAnnotations> GetAsync(ScopeKey key, TimeSpan wait, CancellationToken ct)
    {
        if (cache.TryGetValue(key, out CachedScope? cached) && cached is not null)
        {
            if (time.GetUtcNow() - cached.ReadAt >= ttl)
                _ = Read(key);
            return cached.Annotations;
        }
        try
        {
            return await Read(key).WaitAsync(wait, time, ct);
        }
        catch (TimeoutException)
        {
            ScopeLog.ReadFailed(logger, key.Kind, key.Namespace, key.Name, "timed out");
            return ScopeAnnotations.None;
        }
    }

    /// <summary>One read per key at a time; a failed read answers None and leaves any cached value in place.</summary>
    private Task<ScopeAnnotations> Read(ScopeKey key)
    {
        var mine = new TaskCompletionSource<ScopeAnnotations>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = inflight.GetOrAdd(key, mine.Task);
        if (shared == mine.Task)
            _ = ReadInto(key, mine);
        return shared;
    }

    private async Task ReadInto(ScopeKey key, TaskCompletionSource<ScopeAnnotations> completion)
    {
        var annotations = ScopeAnnotations.None;
        try
        {
            annotations = ScopeAnnotations.From(key.Kind == "Namespace"
                ? (await api.ReadNamespaceAsync(key.Name, CancellationToken.None)).Metadata
                : (await api.ReadServiceAccountAsync(key.Namespace, key.Name, CancellationToken.None)).Metadata);
            Remember(key, annotations);
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.NotFound))
        {
            Remember(key, ScopeAnnotations.None);
        }
        catch (Exception e)
        {
            ScopeLog.ReadFailed(logger, key.Kind, key.Namespace, key.Name, KubernetesErrors.Describe(e));
        }
        inflight.TryRemove(KeyValuePair.Create(key, completion.Task));
        completion.SetResult(annotations);
    }

    private void Remember(ScopeKey key, ScopeAnnotations annotations) =>
        cache.Set(key, new CachedScope(annotations, time.GetUtcNow()), new MemoryCacheEntryOptions { SlidingExpiration = Idle, Size = 1 });

    private sealed record ScopeKey(string Kind, string Namespace, string Name);

    private sealed record CachedScope(ScopeAnnotations Annotations, DateTimeOffset ReadAt);
}

internal static partial class ScopeLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Could not read the annotations of {Kind} {Namespace}/{Name}: {Error}; treating them as absent")]
    public static partial void ReadFailed(ILogger logger, string kind, string @namespace, string name, string error);
}
