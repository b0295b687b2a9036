using System.Globalization;
using System.Security.Cryptography;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A local stand-in for the kube-apiserver: the endpoints the webhook uses, in the real API's JSON,
/// served by Kestrel on 127.0.0.1, so the real KubernetesClient talks to it unchanged.
/// Every request is recorded under a stable operation name, and any operation can be made to fail.
/// The request handling lives in FakeKubernetesApi.Handlers.cs.
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
    // resourceVersion, the stores, the records and the faults consistent with each other.
    private readonly Lock _gate = new();
    private long _resourceVersion;
    private readonly List<RecordedRequest> _requests = [];
    private readonly Dictionary<string, Fault> _faults = [];
    private readonly List<(string Operation, int Count, TaskCompletionSource Reached)> _waiters = [];

    private readonly KubeObjectStore<V1Secret> _secrets = new("secrets", "v1", "Secret");
    private readonly KubeObjectStore<V1Pod> _pods = new("pods", "v1", "Pod");
    private readonly KubeObjectStore<V1ServiceAccount> _serviceAccounts = new("serviceaccounts", "v1", "ServiceAccount");
    private readonly KubeObjectStore<V1Namespace> _namespaces = new("namespaces", "v1", "Namespace", namespaced: false);
    private readonly KubeObjectStore<Corev1Event> _events = new("events", "v1", "Event");
    private readonly KubeObjectStore<Eventsv1Event> _eventsV1 = new("events.events.k8s.io", "events.k8s.io/v1", "Event");
    private readonly KubeObjectStore<V1Lease> _leases = new("leases.coordination.k8s.io", "coordination.k8s.io/v1", "Lease");

    private LoopbackServer? _server;
    private volatile bool _requireServiceAccounts;

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
        return api;
    }

    /// <summary>e.g. http://127.0.0.1:41234/ (with the trailing slash).</summary>
    public Uri BaseAddress => Server.BaseAddress;

    /// <summary>The <c>iss</c> of issued tokens: the base address without its trailing slash, so OIDC discovery works from it.</summary>
    public string Issuer => BaseAddress.ToString().TrimEnd('/');

    /// <summary>The <c>kid</c> of issued tokens and of the one key in the JWKS.</summary>
    public string KeyId { get; }

    /// <summary>When true, a TokenRequest for a ServiceAccount not added with <see cref="AddServiceAccount"/> is 404.</summary>
    public bool RequireServiceAccounts
    {
        get => _requireServiceAccounts;
        set => _requireServiceAccounts = value;
    }

    private LoopbackServer Server => _server ?? throw new InvalidOperationException("not started");

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

    // --- state for tests: everything returned is a copy ---

    public V1Secret? GetSecret(string ns, string name) => Locked(() => _secrets.Get(ns, name));

    public IReadOnlyList<V1Secret> Secrets => Locked(() => _secrets.List());

    /// <summary>Seeds or overwrites a Secret; assigns uid (when missing), creationTimestamp and a new resourceVersion.</summary>
    public void PutSecret(V1Secret secret) => Seed(_secrets, secret);

    public V1Pod? GetPod(string ns, string name) => Locked(() => _pods.Get(ns, name));

    public IReadOnlyList<V1Pod> Pods => Locked(() => _pods.List());

    public void AddPod(V1Pod pod) => Seed(_pods, pod);

    public bool RemovePod(string ns, string name) => Locked(() => _pods.Remove(ns, name));

    public V1ServiceAccount? GetServiceAccount(string ns, string name) => Locked(() => _serviceAccounts.Get(ns, name));

    public IReadOnlyList<V1ServiceAccount> ServiceAccounts => Locked(() => _serviceAccounts.List());

    public void AddServiceAccount(V1ServiceAccount serviceAccount) => Seed(_serviceAccounts, serviceAccount);

    public V1Namespace? GetNamespace(string name) => Locked(() => _namespaces.Get(null, name));

    public IReadOnlyList<V1Namespace> Namespaces => Locked(() => _namespaces.List());

    public void AddNamespace(V1Namespace ns) => Seed(_namespaces, ns);

    public V1Lease? GetLease(string ns, string name) => Locked(() => _leases.Get(ns, name));

    public IReadOnlyList<Corev1Event> Events => Locked(() => _events.List());

    /// <summary>events.k8s.io/v1 events as JSON, in namespace/name order.</summary>
    public IReadOnlyList<string> EventsV1Json => Locked(() => _eventsV1.List().Select(e => KubernetesJson.Serialize(e)).ToList());

    // --- what was asked ---

    public IReadOnlyList<RecordedRequest> Requests => Locked(() => _requests.ToList());

    public int Count(string operation) => Locked(() => _requests.Count(r => r.Operation == operation));

    /// <summary>All requests except Quay's JWKS and discovery fetches.</summary>
    public int TotalCount => Locked(() => _requests.Count(r => !UncountedOperations.Contains(r.Operation)));

    public void ResetCounts() => Locked(() => _requests.Clear());

    /// <summary>Completes once <paramref name="operation"/> has been received <paramref name="count"/> times
    /// (since the last <see cref="ResetCounts"/>): lets a test act while a request hangs, without sleeping.</summary>
    public Task WaitForCountAsync(string operation, int count, CancellationToken ct = default)
    {
        lock (_gate)
        {
            if (_requests.Count(r => r.Operation == operation) >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((operation, count, reached));
            return reached.Task.WaitAsync(ct);
        }
    }

    // --- faults ---

    /// <summary>Makes <paramref name="operation"/> (e.g. <c>secrets.get</c>) fail until cleared or its <see cref="Fault.Times"/> run out.</summary>
    public void SetFault(string operation, Fault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        Locked(() => _faults[operation] = fault);
    }

    public void ClearFaults() => Locked(() => _faults.Clear());

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

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

    private void Seed<T>(KubeObjectStore<T> store, T obj)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var copy = KubeObjectStore<T>.Clone(obj);
        var meta = copy.Metadata ?? throw new ArgumentException("metadata.name is required", nameof(obj));
        ArgumentException.ThrowIfNullOrEmpty(meta.Name, "obj.Metadata.Name");
        meta.NamespaceProperty = store.Namespaced ? meta.NamespaceProperty ?? "default" : null;
        lock (_gate)
        {
            meta.Uid ??= Guid.NewGuid().ToString();
            meta.CreationTimestamp ??= Now();
            meta.ResourceVersion = NextResourceVersion();
            store.Put(copy);
        }
    }

    // Callers hold _gate: the counter is global across resources, as in etcd.
    private string NextResourceVersion() => (++_resourceVersion).ToString(CultureInfo.InvariantCulture);

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

    private void Record(HttpRequest request, string operation, string? body)
    {
        var record = new RecordedRequest(request.Method, request.Path.Value ?? "/", request.QueryString.Value ?? "", operation, body, _time.GetUtcNow());
        lock (_gate)
        {
            _requests.Add(record);
            var seen = _requests.Count(r => r.Operation == operation);
            _waiters.RemoveAll(w => w.Operation == operation && seen >= w.Count && w.Reached.TrySetResult());
        }
    }
}
