using System.Collections.Concurrent;
using System.Net;
using k8s.Models;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Robots;

/// <summary>
/// Our annotations on one ServiceAccount or Namespace, and its uid (the owner of a ServiceAccount's
/// pull Secrets); null when absent, unreadable or, for the uid, not shaped like one.
/// </summary>
public sealed record ObjectAnnotations(string? RobotAccounts, string? Inject, string? Uid = null)
{
    public static readonly ObjectAnnotations None = new(null, null);

    public static ObjectAnnotations From(V1ObjectMeta? metadata)
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
/// An entry older than ScopeCacheTtl is still served while one background read refreshes it. The
/// ServiceAccount's uid is also what its pull Secrets name as their owner.
/// </summary>
public sealed class AnnotationReader(
    KubernetesApi api, IMemoryCache cache, TimeProvider time, IOptions<RobotOptions> options, ILogger<AnnotationReader> logger) : IServiceAccountUids
{
    // Deleted ServiceAccounts and Namespaces leave the cache once nobody asked for them a while.
    private static readonly TimeSpan Idle = TimeSpan.FromHours(1);

    private readonly TimeSpan ttl = options.Value.ScopeCacheTtl;
    private readonly ConcurrentDictionary<ObjectKey, Task<ObjectAnnotations>> inflight = new();

    public Task<ObjectAnnotations> ServiceAccountAsync(string ns, string name, TimeSpan wait, CancellationToken ct) =>
        GetAsync(new ObjectKey("ServiceAccount", ns, name), wait, ct);

    public Task<ObjectAnnotations> NamespaceAsync(string ns, TimeSpan wait, CancellationToken ct) =>
        GetAsync(new ObjectKey("Namespace", "", ns), wait, ct);

    public async Task<string?> UidAsync(string ns, string serviceAccount, TimeSpan wait, CancellationToken ct) =>
        (await ServiceAccountAsync(ns, serviceAccount, wait, ct)).Uid;

    private async Task<ObjectAnnotations> GetAsync(ObjectKey key, TimeSpan wait, CancellationToken ct)
    {
        if (cache.TryGetValue(key, out CachedAnnotations? cached) && cached is not null)
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
            AnnotationReaderLog.ReadFailed(logger, key.Kind, key.Namespace, key.Name, "timed out");
            return ObjectAnnotations.None;
        }
    }

    /// <summary>One read per key at a time; a failed read answers None and leaves any cached value in place.</summary>
    private Task<ObjectAnnotations> Read(ObjectKey key)
    {
        var mine = new TaskCompletionSource<ObjectAnnotations>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = inflight.GetOrAdd(key, mine.Task);
        if (shared == mine.Task)
            _ = ReadInto(key, mine);
        return shared;
    }

    private async Task ReadInto(ObjectKey key, TaskCompletionSource<ObjectAnnotations> completion)
    {
        var annotations = ObjectAnnotations.None;
        try
        {
            annotations = ObjectAnnotations.From(key.Kind == "Namespace"
                ? (await api.ReadNamespaceAsync(key.Name, CancellationToken.None)).Metadata
                : (await api.ReadServiceAccountAsync(key.Namespace, key.Name, CancellationToken.None)).Metadata);
            Remember(key, annotations);
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.NotFound))
        {
            Remember(key, ObjectAnnotations.None);
        }
        catch (Exception e)
        {
            AnnotationReaderLog.ReadFailed(logger, key.Kind, key.Namespace, key.Name, KubernetesErrors.Describe(e));
        }
        inflight.TryRemove(KeyValuePair.Create(key, completion.Task));
        completion.SetResult(annotations);
    }

    private void Remember(ObjectKey key, ObjectAnnotations annotations) =>
        cache.Set(key, new CachedAnnotations(annotations, time.GetUtcNow()), new MemoryCacheEntryOptions { SlidingExpiration = Idle, Size = 1 });

    private sealed record ObjectKey(string Kind, string Namespace, string Name);

    private sealed record CachedAnnotations(ObjectAnnotations Annotations, DateTimeOffset ReadAt);
}

internal static partial class AnnotationReaderLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Could not read the annotations of {Kind} {Namespace}/{Name}: {Error}; treating them as absent")]
    public static partial void ReadFailed(ILogger logger, string kind, string @namespace, string name, string error);
}
