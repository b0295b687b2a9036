using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A local stand-in for the kube-apiserver: the calls the webhook makes (and only those), in the real
/// API's JSON, served by Kestrel on 127.0.0.1, so the real KubernetesClient talks to it unchanged.
/// Lists paginate over consistent snapshots, watches stream from a bounded history of changes
/// (see Fakes/README.md for what it implements and where it knowingly differs).
/// Every request is recorded under a stable operation name (<c>resource.verb</c>, e.g. <c>secrets.list</c>,
/// <c>pods.watch</c>, <c>leases.update</c>), and any operation can be made to fail.
/// The request handling lives in FakeKubernetesApi.Handlers.cs and FakeKubernetesApi.Watch.cs.
/// </summary>
public sealed partial class FakeKubernetesApi : IAsyncDisposable
{
    public const string AdminToken = "fake-admin-token";

    // The kube-apiserver's default audience for tokens requested without one.
    public const string DefaultAudience = "https://kubernetes.default.svc.cluster.local";

    // Quay makes these calls itself; they are not the webhook's traffic.
    private static readonly string[] UncountedOperations = ["jwks", "discovery"];

    private readonly TimeProvider _time;
    private readonly RSA _signingKey = RSA.Create(2048);

    // One lock for all state: contention is irrelevant at test scale, and it keeps
    // resourceVersion, the stores, their histories, the watchers, the records and the faults consistent.
    private readonly Lock _gate = new();
    // etcd's revision is never 0: even a list of an empty store reports a real resourceVersion, and a
    // watch from it must replay what follows ("0" would mean "start anywhere").
    private long _resourceVersion = 1;
    private readonly List<RecordedRequest> _requests = [];
    private readonly Dictionary<string, OperationTraffic> _traffic = [];
    private readonly Dictionary<string, Fault> _faults = [];
    private readonly List<(string Operation, int Count, TaskCompletionSource Reached)> _waiters = [];

    private readonly KubeObjectStore<V1Secret> _secrets = new("secrets", "v1", "Secret");

    private readonly KubeObjectStore<V1Pod> _pods = new("pods", "v1", "Pod",
        emptyFields: ",\"spec\":{\"containers\":null},\"status\":{}");

    private readonly KubeObjectStore<V1ServiceAccount> _serviceAccounts = new("serviceaccounts", "v1", "ServiceAccount");

    private readonly KubeObjectStore<V1Namespace> _namespaces = new("namespaces", "v1", "Namespace", namespaced: false);

    private readonly KubeObjectStore<Corev1Event> _events = new("events", "v1", "Event");
    private readonly KubeObjectStore<Eventsv1Event> _eventsV1 = new("events.events.k8s.io", "events.k8s.io/v1", "Event");

    private readonly KubeObjectStore<V1Lease> _leases = new("leases.coordination.k8s.io", "coordination.k8s.io/v1", "Lease",
        emptyFields: ",\"spec\":{}");

    private LoopbackServer? _server;
    private Uri? _baseAddress;
    private TimeSpan _bookmarkInterval = TimeSpan.FromSeconds(1);
    private CancellationTokenSource _closeWatches = new();
    private readonly Dictionary<string, int> _openWatches = [];

    // Before any object with managedFields is written with KubernetesJson.
    static FakeKubernetesApi() => KubernetesJsonElements.Teach();

    private FakeKubernetesApi(TimeProvider time)
    {
        _time = time;
        KeyId = FakeJwt.KeyIdOf(_signingKey);
    }

    public static async Task<FakeKubernetesApi> StartAsync(TimeProvider time, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(time);
        var api = new FakeKubernetesApi(time);
        api._server = await LoopbackServer.StartAsync(api.HandleAsync, certificate: null, ct);
        api._baseAddress = api._server.BaseAddress;
        return api;
    }

    /// <summary>e.g. http://127.0.0.1:41234/ (with the trailing slash); the same after <see cref="RestartAsync"/>.</summary>
    public Uri BaseAddress => _baseAddress ?? throw new InvalidOperationException("not started");

    /// <summary>The <c>iss</c> of issued tokens: the base address without its trailing slash, so OIDC discovery works from it.</summary>
    public string Issuer => BaseAddress.ToString().TrimEnd('/');

    // The kid of issued tokens and of the one key in the JWKS.
    private string KeyId { get; }

    /// <summary>A JWT with these claims, signed as this API server signs ServiceAccount tokens: to present one a TokenRequest would not issue.</summary>
    internal string SignToken(System.Text.Json.Nodes.JsonObject claims) => FakeJwt.SignRs256(_signingKey, KeyId, claims);

    /// <summary>How often a watch with <c>allowWatchBookmarks=true</c> gets a BOOKMARK (real time; the real API sends about one a minute).</summary>
    public TimeSpan BookmarkInterval
    {
        get => Locked(() => _bookmarkInterval);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            Locked(() => _bookmarkInterval = value);
        }
    }

    /// <summary>The resourceVersion of the latest write, as a list would report it.</summary>
    public string CurrentResourceVersion => Locked(() => Format(_resourceVersion));

    /// <summary>False between <see cref="StopAsync"/> and <see cref="RestartAsync"/>.</summary>
    public bool IsRunning => Locked(() => _server is not null);

    public KubernetesClientConfiguration ClientConfiguration() =>
        new() { Host = BaseAddress.ToString(), AccessToken = AdminToken };

    /// <summary>Writes a kubeconfig for this server (context "fake", namespace "default") and returns its path.</summary>
    public string WriteKubeconfig(string path)
    {
        var yaml = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {BaseAddress}
            users:
            - name: fake-admin
              user:
                token: {AdminToken}
            contexts:
            - name: fake
              context:
                cluster: fake
                user: fake-admin
                namespace: default
            current-context: fake

            """;
        File.WriteAllText(path, yaml);
        return path;
    }

    // --- state for tests: everything returned is a copy; every write is a change watches see ---

    /// <summary>
    /// Seeds an object given as a real API server's JSON (its <c>kind</c> picks the resource): uid,
    /// creationTimestamp, annotations and managedFields stay as given; the resourceVersion is this server's.
    /// </summary>
    public void PutJson(string json)
    {
        switch (JsonNode.Parse(json)?["kind"]?.GetValue<string>())
        {
            case "Secret":
                Seed(_secrets, [KubernetesJson.Deserialize<V1Secret>(json)]);
                break;
            case "Pod":
                Seed(_pods, [KubernetesJson.Deserialize<V1Pod>(json)]);
                break;
            case "ServiceAccount":
                Seed(_serviceAccounts, [KubernetesJson.Deserialize<V1ServiceAccount>(json)]);
                break;
            case "Namespace":
                Seed(_namespaces, [KubernetesJson.Deserialize<V1Namespace>(json)]);
                break;
            case "Lease":
                Seed(_leases, [KubernetesJson.Deserialize<V1Lease>(json)]);
                break;
            case var other:
                throw new ArgumentException($"no store for kind {other}", nameof(json));
        }
    }

    public V1Secret? GetSecret(string ns, string name) => Locked(() => _secrets.Get(ns, name));

    public IReadOnlyList<V1Secret> Secrets => Locked(() => _secrets.List());

    /// <summary>Seeds or overwrites a Secret; assigns uid (when missing), creationTimestamp and a new resourceVersion.</summary>
    public void PutSecret(V1Secret secret) => Seed(_secrets, [secret]);

    /// <summary>Many <see cref="PutSecret"/>s under one lock, for seeding at scale.</summary>
    public void PutSecrets(IEnumerable<V1Secret> secrets) => Seed(_secrets, secrets);

    /// <summary>Changes a stored Secret as a client's update would (new resourceVersion, MODIFIED event); returns the result.</summary>
    public V1Secret UpdateSecret(string ns, string name, Action<V1Secret> change) => Update(_secrets, ns, name, change);

    public bool DeleteSecret(string ns, string name) => Remove(_secrets, ns, name);

    public V1Pod? GetPod(string ns, string name) => Locked(() => _pods.Get(ns, name));

    public IReadOnlyList<V1Pod> Pods => Locked(() => _pods.List());

    public void AddPod(V1Pod pod) => Seed(_pods, [pod]);

    /// <summary>Seeds or overwrites a Pod (the same as <see cref="AddPod"/>).</summary>
    public void PutPod(V1Pod pod) => Seed(_pods, [pod]);

    public void PutPods(IEnumerable<V1Pod> pods) => Seed(_pods, pods);

    public V1Pod UpdatePod(string ns, string name, Action<V1Pod> change) => Update(_pods, ns, name, change);

    /// <summary>Removes a Pod at once, as the kubelet's final delete does.</summary>
    public bool DeletePod(string ns, string name) => Remove(_pods, ns, name);

    public V1ServiceAccount? GetServiceAccount(string ns, string name) => Locked(() => _serviceAccounts.Get(ns, name));

    public void AddServiceAccount(V1ServiceAccount serviceAccount) => Seed(_serviceAccounts, [serviceAccount]);

    public void AddNamespace(V1Namespace ns) => Seed(_namespaces, [ns]);

    public V1Lease? GetLease(string ns, string name) => Locked(() => _leases.Get(ns, name));

    public void PutLease(V1Lease lease) => Seed(_leases, [lease]);

    public IReadOnlyList<Corev1Event> Events => Locked(() => _events.List());

    /// <summary>events.k8s.io/v1 events as JSON, in namespace/name order.</summary>
    public IReadOnlyList<string> EventsV1Json => Locked(() => _eventsV1.List().Select(e => KubernetesJson.Serialize(e)).ToList());

    /// <summary>Forgets every resource's history up to now, as etcd compaction does: a watch or a continue
    /// token from an earlier resourceVersion then gets 410 Expired.</summary>
    public void Compact() => Locked(() => ForEachStore(s => s.Compact(_resourceVersion)));

    // --- watches ---

    /// <summary>Open watch streams, all or of one operation (e.g. <c>pods.watch</c>): lets a test wait until a client is watching.</summary>
    public int OpenWatchCount(string? operation = null) =>
        Locked(() => operation is null ? _openWatches.Values.Sum() : _openWatches.GetValueOrDefault(operation));

    /// <summary>Ends every open watch stream cleanly (the response completes), as the API server does at a watch's timeout.</summary>
    public void CloseWatches()
    {
        CancellationTokenSource closing;
        lock (_gate)
        {
            closing = _closeWatches;
            _closeWatches = new CancellationTokenSource();
        }

        // Not disposed: watches that started under it may still be linking to its token.
        closing.Cancel();
    }

    // --- what was asked ---

    public IReadOnlyList<RecordedRequest> Requests => Locked(() => _requests.ToList());

    public int Count(string operation) => Locked(() => _traffic.GetValueOrDefault(operation)?.Requests ?? 0);

    /// <summary>All requests except Quay's JWKS and discovery fetches.</summary>
    /// <remarks>Watches are long-lived streams that the caches open and reopen on their own schedule: count them with <see cref="Count"/>.</remarks>
    public int TotalCount => Locked(() => _traffic.Where(t => !UncountedOperations.Contains(t.Key) && !t.Key.EndsWith(".watch", StringComparison.Ordinal)).Sum(t => t.Value.Requests));

    /// <summary>Response body bytes sent for <paramref name="operation"/> (a watch's grow while it streams).</summary>
    public long ResponseBytes(string operation) => Locked(() => _traffic.GetValueOrDefault(operation)?.ResponseBytes ?? 0);

    /// <summary>Requests and response body bytes per operation since the last <see cref="ResetCounts"/>.</summary>
    public IReadOnlyDictionary<string, (int Requests, long ResponseBytes)> Traffic =>
        Locked(() => _traffic.Where(t => t.Value.Requests > 0 || t.Value.ResponseBytes > 0)
            .ToDictionary(t => t.Key, t => (t.Value.Requests, t.Value.ResponseBytes)));

    /// <summary>Forgets the recorded requests and zeroes the request and byte counts.</summary>
    public void ResetCounts() => Locked(() =>
    {
        _requests.Clear();
        foreach (var traffic in _traffic.Values)
        {
            traffic.Reset();
        }
    });

    /// <summary>Completes once <paramref name="operation"/> has been received <paramref name="count"/> times
    /// (since the last <see cref="ResetCounts"/>): lets a test act while a request hangs, without sleeping.</summary>
    public Task WaitForCountAsync(string operation, int count, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if ((_traffic.GetValueOrDefault(operation)?.Requests ?? 0) >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((operation, count, reached));
            return reached.Task.WaitAsync(ct);
        }
    }

    // --- faults ---

    /// <summary>Makes <paramref name="operation"/> (e.g. <c>secrets.get</c>, <c>pods.watch</c>) fail until cleared or its <see cref="Fault.Times"/> run out.</summary>
    public void SetFault(string operation, Fault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        Locked(() => _faults[operation] = fault);
    }

    public void ClearFaults() => Locked(() => _faults.Clear());

    /// <summary>
    /// Stops listening: open connections are aborted (watch streams and hanging requests included) and
    /// new ones are refused, as when the API server or the path to it goes away. All state stays.
    /// </summary>
    public async Task StopAsync()
    {
        LoopbackServer? server;
        lock (_gate)
        {
            server = _server;
            _server = null;
        }

        if (server is not null)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Listens again on the same address (stopping first if running), with all objects, resourceVersions and history kept.</summary>
    public async Task RestartAsync(CancellationToken ct = default)
    {
        await StopAsync();
        var server = await LoopbackServer.StartAsync(HandleAsync, certificate: null, ct, BaseAddress.Port);
        Locked(() => _server = server);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _closeWatches.Dispose();
        _signingKey.Dispose();
    }

    private Fault? TakeFault(string operation)
    {
        lock (_gate)
        {
            if (!_faults.TryGetValue(operation, out var fault))
            {
                return null;
            }

            if (fault.Times is { } times)
            {
                if (times <= 1)
                {
                    _faults.Remove(operation);
                }
                else
                {
                    _faults[operation] = fault with { Times = times - 1 };
                }
            }

            return fault;
        }
    }

    private void Seed<T>(KubeObjectStore<T> store, IEnumerable<T> objects)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(objects);
        var given = objects.ToList();
        foreach (var obj in given)
        {
            ArgumentNullException.ThrowIfNull(obj);
            ArgumentException.ThrowIfNullOrEmpty(obj.Metadata?.Name, "obj.Metadata.Name");
        }

        lock (_gate)
        {
            // Copies of the caller's objects (never kept or changed) are serialized in parallel, at
            // resourceVersions reserved in order, then committed in that order: seeding 100,000 Pods is linear.
            var now = Now();
            var first = _resourceVersion + 1;
            _resourceVersion += given.Count;
            var prepared = new StoredObject[given.Count];
            Parallel.For(0, given.Count, i =>
            {
                var copy = Clone(given[i]);
                var meta = copy.Metadata;
                meta.NamespaceProperty = store.Namespaced ? meta.NamespaceProperty ?? "default" : null;
                meta.Uid ??= Guid.NewGuid().ToString();
                meta.CreationTimestamp ??= now;
                Defaults(copy);
                // An object given with managedFields (a real server's, from a response file) keeps them as they are.
                if (meta.ManagedFields is not { Count: > 0 })
                {
                    ManagedFields.Stamp(copy, kept: null, ManagedFields.SeedManager, store.ApiVersion, JsonNode.Parse(KubernetesJson.Serialize(copy)), now);
                }

                prepared[i] = store.Prepare(copy, first + i);
            });
            foreach (var stored in prepared)
            {
                store.Commit(stored);
            }
        }
    }

    private T Update<T>(KubeObjectStore<T> store, string? ns, string name, Action<T> change)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_gate)
        {
            var obj = store.Get(ns, name) ?? throw new InvalidOperationException($"{store.Resource} \"{name}\" not found");
            var identity = (obj.Metadata.Name, obj.Metadata.NamespaceProperty, obj.Metadata.Uid, obj.Metadata.CreationTimestamp, obj.Metadata.ManagedFields);
            change(obj);
            (obj.Metadata.Name, obj.Metadata.NamespaceProperty, obj.Metadata.Uid, obj.Metadata.CreationTimestamp, var kept) = identity;
            ManagedFields.Stamp(obj, kept, ManagedFields.SeedManager, store.ApiVersion, JsonNode.Parse(KubernetesJson.Serialize(obj)), Now());
            return store.Typed(store.Put(obj, ++_resourceVersion).Current!);
        }
    }

    private bool Remove<T>(KubeObjectStore<T> store, string? ns, string name)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        lock (_gate)
        {
            if (store.Find(ns, name) is null)
            {
                return false;
            }

            store.Remove(ns, name, ++_resourceVersion);
            return true;
        }
    }

    // Callers hold _gate.
    private void ForEachStore(Action<IKubeStore> action)
    {
        action(_secrets);
        action(_pods);
        action(_serviceAccounts);
        action(_namespaces);
        action(_events);
        action(_eventsV1);
        action(_leases);
    }

    private static T Clone<T>(T obj) => KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(obj));

    private static string Format(long resourceVersion) => resourceVersion.ToString(CultureInfo.InvariantCulture);

    // The API server stores timestamps with second precision.
    private DateTime Now()
    {
        var now = _time.GetUtcNow().UtcDateTime;
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond));
    }

    private TResult Locked<TResult>(Func<TResult> read)
    {
        lock (_gate)
        {
            return read();
        }
    }

    private void Locked(Action action)
    {
        lock (_gate)
        {
            action();
        }
    }

    private OperationTraffic Record(HttpRequest request, string operation, string? body)
    {
        var record = new RecordedRequest(request.Method, request.Path.Value ?? "/", request.QueryString.Value ?? "", operation, body, _time.GetUtcNow(), request.Headers.UserAgent.ToString());
        lock (_gate)
        {
            _requests.Add(record);
            if (!_traffic.TryGetValue(operation, out var traffic))
            {
                _traffic[operation] = traffic = new OperationTraffic();
            }

            var seen = traffic.CountRequest();
            _waiters.RemoveAll(w => w.Operation == operation && seen >= w.Count && w.Reached.TrySetResult());
            return traffic;
        }
    }

    /// <summary>Counts of one operation; bytes are added by the response stream as they are written, without the lock.</summary>
    private sealed class OperationTraffic
    {
        private int _requests;
        private long _responseBytes;

        public int Requests => Volatile.Read(ref _requests);

        public long ResponseBytes => Interlocked.Read(ref _responseBytes);

        public int CountRequest() => Interlocked.Increment(ref _requests);

        public void CountBytes(int bytes) => Interlocked.Add(ref _responseBytes, bytes);

        public void Reset()
        {
            Volatile.Write(ref _requests, 0);
            Interlocked.Exchange(ref _responseBytes, 0);
        }
    }
}
