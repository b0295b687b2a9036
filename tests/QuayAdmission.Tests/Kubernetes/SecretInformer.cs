using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes;
using QuayAdmission.Kubernetes.Watching;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Kubernetes;

/// <summary>What the test informer keeps of a Secret: its key and the value of one annotation.</summary>
internal sealed record SecretItem(string Key, string? Value);

/// <summary>
/// An informer over the stand-in's managed Secrets, run by the real supervisor on a fake clock, the
/// way the webhook runs its caches. Every Changed is recorded in order.
/// </summary>
internal sealed class SecretInformer : IAsyncDisposable
{
    public const string Namespace = "team-a";
    public const string Loop = "secrets-informer";
    public const string ValueAnnotation = "test/value";

    /// <summary>A Secret with this label is projected to null: the informer must not keep it.</summary>
    public const string SkipLabel = "test/skip";

    public static readonly BackgroundOptions Backoff = new() { BackoffBase = TimeSpan.FromSeconds(1), BackoffMax = TimeSpan.FromSeconds(4) };

    // Long enough that no test's fake time reaches the watch's own bound, nor its real time the server's timeout.
    private static readonly InformerSettings Watch = new(TimeSpan.FromHours(1), TimeSpan.FromSeconds(30));

    private readonly CancellationTokenSource stopping = new();
    private readonly TestMetrics metrics = new();
    private readonly KubernetesApi client;
    private readonly BackgroundLoops loops;
    private readonly Lock gate = new();
    private readonly List<(SecretItem? Old, SecretItem? New)> changes = [];
    private Task run = Task.CompletedTask;

    private SecretInformer(TestClock clock, FakeKubernetesApi kube, Func<InformerSource<V1Secret>, InformerSource<V1Secret>>? source)
    {
        Clock = clock;
        Kube = kube;
        client = new KubernetesApi(kube.ClientConfiguration());
        loops = new BackgroundLoops(metrics.Metrics, Options.Create(Backoff), clock, NullLogger<BackgroundLoops>.Instance);
        var secrets = InformerSources.Secrets(PullSecretStore.ManagedSelector);
        Informer = new Informer<V1Secret, SecretItem>(client, source?.Invoke(secrets) ?? secrets, Project, Watch, metrics.Metrics, clock);
        Informer.Changed += (old, @new) =>
        {
            lock (gate)
                changes.Add((old, @new));
        };
    }

    public TestClock Clock { get; }

    public FakeKubernetesApi Kube { get; }

    public Informer<V1Secret, SecretItem> Informer { get; }

    public LoopProgress Progress => loops.Progress(Loop);

    /// <summary>The client's timeout (KubernetesClient's 100 s unless a test shortens it; production uses 15 s).</summary>
    public TimeSpan ClientTimeout
    {
        get => client.Timeout;
        set => client.Timeout = value;
    }

    public IReadOnlyList<(SecretItem? Old, SecretItem? New)> Changes
    {
        get
        {
            lock (gate)
                return changes.ToList();
        }
    }

    /// <summary>
    /// A stand-in API and an informer that is not running yet. <paramref name="source"/> can wrap
    /// what the informer lists and watches, to act between the pages of a list.
    /// </summary>
    public static async Task<SecretInformer> CreateAsync(Func<InformerSource<V1Secret>, InformerSource<V1Secret>>? source = null)
    {
        var clock = new TestClock();
        return new SecretInformer(clock, await FakeKubernetesApi.StartAsync(clock), source);
    }

    /// <summary>Starts the informer under its supervisor and waits until it has listed and is watching.</summary>
    public async Task StartAsync()
    {
        Run();
        await WatchingAsync();
    }

    /// <summary>Starts the informer under its supervisor, off the test's synchronization context.</summary>
    public void Run() => run = Task.Run(() => loops.RunAsync(Loop, Informer.RunAsync, stopping.Token));

    public Task WatchingAsync() => UntilAsync(() => Informer.HasSynced && Kube.OpenWatchCount("secrets.watch") == 1, "listed and watching");

    /// <summary>Waits until the supervisor caught a fault and is parked in its backoff on the fake clock.</summary>
    public Task BackingOffAsync() =>
        UntilAsync(() => Progress.IsFailing && Clock.Waiting(d => d > TimeSpan.Zero && d <= Backoff.BackoffMax) == 1, "backing off");

    /// <summary>
    /// Ends the open watches as the API server does at their timeout: after they ran a while (the
    /// clock passes <see cref="Informer{TObject, TItem}.MinWatchDuration"/>), so the informer reconnects
    /// at once instead of backing off from a "very short watch".
    /// </summary>
    public void EndWatches()
    {
        Clock.Advance(Informer<V1Secret, SecretItem>.MinWatchDuration);
        Kube.CloseWatches();
    }

    /// <summary>Waits until the informer is parked in its reflector backoff (a short watch, a 410), then lets the first step pass.</summary>
    public async Task ReflectorBackoffAsync()
    {
        await UntilAsync(() => Clock.Waiting(d => d > TimeSpan.Zero && d <= QuayAdmission.Background.Backoff.Reflector.Base) == 1, "in the reflector backoff");
        Clock.Advance(QuayAdmission.Background.Backoff.Reflector.Base);
    }

    public string? ValueOf(string name) => Informer.Get(Namespace, name)?.Value;

    public void Put(string name, string value) => Kube.PutSecret(Secret(name, value));

    public void Update(string name, string value) =>
        Kube.UpdateSecret(Namespace, name, s => s.Metadata.Annotations[ValueAnnotation] = value);

    public async Task UntilAsync(Func<bool> condition, string what) =>
        Assert.True(await Eventually.TrueAsync(condition), $"never {what}; requests: {string.Join(", ", Kube.Requests.Select(r => r.Operation))}");

    public static SecretItem Expected(string name, string value) => new($"{Namespace}/{name}", value);

    /// <summary>One Changed notification as the tests expect it: (null, x) added, (x, null) removed.</summary>
    public static (SecretItem? Old, SecretItem? New) Change(SecretItem? old, SecretItem? @new) => (old, @new);

    public static V1Secret Secret(string name, string value = "1", bool managed = true) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = Namespace,
            Labels = managed ? new Dictionary<string, string> { [WellKnown.ManagedByLabel] = WellKnown.ManagedByValue } : null,
            Annotations = new Dictionary<string, string> { [ValueAnnotation] = value },
        },
        Type = "Opaque",
    };

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        // The supervisor returns on shutdown, whatever state the informer was in.
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        client.Dispose();
        await Kube.DisposeAsync();
        metrics.Dispose();
        stopping.Dispose();
    }

    private static SecretItem? Project(V1Secret secret) =>
        secret.Metadata.Labels?.ContainsKey(SkipLabel) == true
            ? null
            : new SecretItem($"{secret.Metadata.NamespaceProperty}/{secret.Metadata.Name}", secret.Metadata.Annotations?.TryGetValue(ValueAnnotation, out var value) == true ? value : null);
}
