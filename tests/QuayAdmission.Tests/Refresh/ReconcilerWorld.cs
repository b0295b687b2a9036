using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using QuayAdmission.Admission;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Refresh;
using QuayAdmission.Robots;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Refresh;

/// <summary>
/// One <see cref="SecretReconciler"/> and what it reads and calls, all in memory: the real Secret
/// cache and Pod index filled by hand, the real resolver and trust boundary over an API that
/// answers from a dictionary (no socket), fakes for the renewal, the delete, the namespace's Pod
/// list and events, and a fake clock. Every call to a fake and every event lands in
/// <see cref="Effects"/>, in order.
/// </summary>
internal sealed class ReconcilerWorld : IDisposable
{
    public const string Namespace = "team-a";
    public const string Registry = "quay.io";
    public const string ResourceVersion = "7";

    public static readonly PullSecretKey Key = new(Namespace, "default", Registry, "acme+puller");

    private readonly Lock gate = new();
    private readonly List<string> effects = [];
    private readonly TestMetrics metrics = new();
    private readonly InMemoryApi network = new();
    private readonly KubernetesApi api;
    private readonly MemoryCache scopeCache = new(new MemoryCacheOptions());

    public ReconcilerWorld(Action<RefresherOptions>? configure = null)
    {
        var refresher = new RefresherOptions();
        configure?.Invoke(refresher);
        Options = refresher;
        Renewal = () => new TokenStatus.Ready(Now.AddHours(1));
        api = new KubernetesApi(new k8s.KubernetesClientConfiguration { Host = "http://kubernetes.invalid" }, network);
        var background = Microsoft.Extensions.Options.Options.Create(new BackgroundOptions());
        Secrets = new ManagedSecretCache(api, new BackgroundLoops(metrics.Metrics, background, Clock, NullLogger<BackgroundLoops>.Instance), background, metrics.Metrics, Clock);
        var quay = new QuayOptions { Registries = [new RegistryOptions { Host = Registry }] };
        var scopes = Microsoft.Extensions.Options.Options.Create(new RobotOptions());
        var policy = new RobotPolicy(scopes);
        var resolver = new RobotResolver(
            new AnnotationReader(api, scopeCache, Clock, scopes, NullLogger<AnnotationReader>.Instance), policy, Microsoft.Extensions.Options.Options.Create(quay));
        Reconciler = new SecretReconciler(
            Pods,
            Secrets,
            new Renewer(this),
            new Deleter(this),
            new PodLister(this),
            resolver,
            new TenantInput(policy, quay.Hosts),
            new Events(this),
            metrics.Metrics,
            Clock,
            Microsoft.Extensions.Options.Options.Create(refresher),
            Microsoft.Extensions.Options.Options.Create(Tokens),
            Microsoft.Extensions.Options.Options.Create(new NamespaceOptions { ExcludedNamespaces = ["excluded"] }),
            Logger);
    }

    public TestClock Clock { get; } = new();

    public DateTimeOffset Now => Clock.GetUtcNow();

    public RefresherOptions Options { get; }

    public TokenOptions Tokens { get; } = new();

    public ManagedSecretCache Secrets { get; }

    public PodIndex Pods { get; } = new();

    public FakeLogger<SecretReconciler> Logger { get; } = new();

    public SecretReconciler Reconciler { get; }

    /// <summary>What the renewal answers; by default a fresh one-hour token.</summary>
    public Func<TokenStatus> Renewal { get; set; }

    /// <summary>What the guarded delete answers: true, deleted; false, the Secret changed or is gone.</summary>
    public bool DeleteSucceeds { get; set; } = true;

    /// <summary>The namespace's Pods as the API lists them, page by page, labelled or not.</summary>
    public List<PodView[]> NamespacePods { get; } = [];

    /// <summary>When each renewal asked for a token lasting past.</summary>
    public List<DateTimeOffset> RenewedUnlessPast { get; } = [];

    public IReadOnlyList<string> Effects
    {
        get
        {
            lock (gate)
                return [.. effects];
        }
    }

    public static string Id => $"{Namespace}/{Key.SecretName}";

    public Task<ReconcileResult> ReconcileAsync(string? id = null) => Reconciler.ReconcileAsync(id ?? Id, CancellationToken.None);

    /// <summary>A Secret as the watch would have brought it.</summary>
    public void Put(V1Secret secret)
    {
        secret.Metadata.ResourceVersion ??= ResourceVersion;
        Secrets.Remember(secret);
    }

    /// <summary>A Secret holding a token issued <paramref name="age"/> ago, living <paramref name="lifetime"/> (one hour).</summary>
    public V1Secret Token(TimeSpan age, TimeSpan? lifetime = null, PullSecretKey? key = null)
    {
        var issued = Now - age;
        var expires = issued + (lifetime ?? TimeSpan.FromHours(1));
        var secret = PullSecretManifest.Build(key ?? Key, new QuayToken(Jwt(issued, expires), expires));
        secret.Metadata.CreationTimestamp = issued.AddDays(-1).UtcDateTime;
        return secret;
    }

    public V1Secret Placeholder(TimeSpan age)
    {
        var secret = PullSecretManifest.Build(Key, token: null);
        secret.Metadata.CreationTimestamp = (Now - age).UtcDateTime;
        return secret;
    }

    /// <summary>A running injected Pod that lists <paramref name="secretName"/>, as the Pod informer projects it.</summary>
    public void PodUsing(string? secretName = null, string? robots = "acme+puller", string ns = Namespace) =>
        Pods.Update(null, new InjectedPod(ns, "web-0", "default", "Running", robots, null, [secretName ?? Key.SecretName]));

    /// <summary>The ServiceAccount's annotations as the API holds them (otherwise it answers 404).</summary>
    public void ServiceAccount(string name, string robots) => network.Objects[$"/api/v1/namespaces/{Namespace}/serviceaccounts/{name}"] = new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "ServiceAccount",
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = Namespace,
            ["uid"] = Guid.NewGuid().ToString(),
            ["annotations"] = new JsonObject { [WellKnown.RobotAccountAnnotation] = robots },
        },
    }.ToJsonString();

    /// <summary>A Pod as a plain list of the namespace returns it, labelled or not.</summary>
    public static PodView PodView(string name, string pullSecret, string phase = "Running") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Namespace },
        Spec = new PodViewSpec { ImagePullSecrets = [new V1LocalObjectReference { Name = pullSecret }] },
        Status = new PodViewStatus { Phase = phase },
    };

    public static string Jwt(DateTimeOffset issued, DateTimeOffset expires) =>
        $"eyJhbGciOiJSUzI1NiJ9.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes($$"""{"iat":{{issued.ToUnixTimeSeconds()}},"exp":{{expires.ToUnixTimeSeconds()}}}"""))}.c2ln";

    public Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long> Collect(string instrument) => metrics.Collect<long>(instrument);

    public void Dispose()
    {
        api.Dispose();
        network.Dispose();
        scopeCache.Dispose();
        metrics.Dispose();
    }

    private void Record(string effect)
    {
        lock (gate)
            effects.Add(effect);
    }

    private sealed class Renewer(ReconcilerWorld world) : ITokenRenewer
    {
        public Task<TokenStatus> RenewAsync(PullSecretKey key, DateTimeOffset renewIfExpiringBefore)
        {
            world.Record($"renew {key.Namespace}/{key.SecretName}");
            world.RenewedUnlessPast.Add(renewIfExpiringBefore);
            return Task.FromResult(world.Renewal());
        }
    }

    private sealed class Deleter(ReconcilerWorld world) : ISecretDeleter
    {
        public Task<bool> DeleteAsync(string ns, string name, string resourceVersion, CancellationToken ct)
        {
            world.Record($"delete {ns}/{name} at {resourceVersion}");
            return Task.FromResult(world.DeleteSucceeds);
        }
    }

    private sealed class PodLister(ReconcilerWorld world) : IPodLister
    {
        public Task<PodViewList> ListPodsAsync(string? ns, string? labelSelector, int? limit, string? continueToken, CancellationToken ct)
        {
            world.Record($"list pods {ns}{(continueToken is null ? "" : $" from {continueToken}")}{(labelSelector is null ? "" : $" labelled {labelSelector}")}");
            var page = continueToken is null ? 0 : int.Parse(continueToken, System.Globalization.CultureInfo.InvariantCulture);
            var pages = world.NamespacePods;
            return Task.FromResult(new PodViewList
            {
                Items = page < pages.Count ? pages[page] : [],
                Metadata = new V1ListMeta { ContinueProperty = page + 1 < pages.Count ? $"{page + 1}" : null },
            });
        }
    }

    private sealed class Events(ReconcilerWorld world) : IEventRecorder
    {
        public void Warning(string kind, string ns, string name, string reason, string message) => world.Record($"Warning {reason} on {kind} {ns}/{name}");

        public void Normal(string kind, string ns, string name, string reason, string message) => world.Record($"Normal {reason} on {kind} {ns}/{name}");
    }

    /// <summary>The API as a dictionary of paths: GET answers the object or 404; nothing leaves the process.</summary>
    private sealed class InMemoryApi : DelegatingHandler
    {
        public Dictionary<string, string> Objects { get; } = new(StringComparer.Ordinal);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Get && Objects.TryGetValue(request.RequestUri!.AbsolutePath, out var json))
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(json, Encoding.UTF8, "application/json") });
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("""{"kind":"Status","code":404}""") });
        }
    }
}
