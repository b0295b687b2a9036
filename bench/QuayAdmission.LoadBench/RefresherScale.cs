using System.Diagnostics;
using System.Globalization;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.LoadBench;

/// <summary>How big and how long the refresher scale scenario is; the defaults are issue 8's cluster.</summary>
internal sealed record ScaleSettings
{
    public ScaleShape Shape { get; init; } = new(Namespaces: 2_000, SecretsPerNamespace: 5, InjectedPodsPerSecret: 5, OtherPodsPerNamespace: 25);

    /// <summary>The window with no changes in which the refresher's own API traffic is counted.</summary>
    public TimeSpan Steady { get; init; } = TimeSpan.FromMinutes(2);

    public int Deletions { get; init; } = 5;

    /// <summary>How long the process on the empty API idles before its resident set is read.</summary>
    public TimeSpan IdleSettle { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>500 Secrets and 2,500 + 2,500 Pods, a steady window of one resync: checks the scenario itself.</summary>
    public static ScaleSettings Quick { get; } = new()
    {
        Shape = new(Namespaces: 100, SecretsPerNamespace: 5, InjectedPodsPerSecret: 5, OtherPodsPerNamespace: 25),
        Steady = TimeSpan.FromSeconds(35), // past one 30 s resync
        Deletions = 2,
        IdleSettle = TimeSpan.FromSeconds(2),
    };
}

/// <summary>
/// The refresher at scale (issue 8): the real webhook process, refresher enabled, against a
/// Kubernetes API stand-in holding thousands of managed Secrets and tens of thousands of Pods.
/// Measures the initial sync (time and API traffic), the API traffic of a steady state with no
/// changes, the resident memory the caches add, and how fast a deleted Secret is re-created.
/// </summary>
internal sealed class RefresherScale(ScaleSettings settings, string webhookDll, string outputDirectory, IReadOnlyDictionary<string, string> extraEnvironment)
{
    private const string LeaseNamespace = "quay-admission";
    private const string ManagedSecrets = "quay_admission_managed_secrets";
    private const string LastSuccess = "quay_admission_background_last_success_timestamp_seconds";
    private const string QueueDepth = "quay_admission_work_queue_depth";
    private const string WatchRestarts = "quay_admission_watch_restarts_total";
    private const string ExchangeSeconds = "quay_admission_token_exchange_duration_seconds";

    private static readonly TimeSpan SyncWithin = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan RecreateWithin = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MetricsPoll = TimeSpan.FromMilliseconds(100);

    private readonly string pidFile = Path.Combine(outputDirectory, "pids");
    private readonly List<string> failures = [];

    public IReadOnlyList<string> Failures => failures;

    public async Task<ScaleResults> RunAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(outputDirectory);
        var work = Directory.CreateDirectory(Path.Combine(outputDirectory, "work")).FullName;
        await using var kube = await FakeKubernetesApi.StartAsync(TimeProvider.System, ct);
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, ct: ct);
        // As the real API server sends them (about one a minute), so the steady state's watch bytes are honest.
        kube.BookmarkInterval = TimeSpan.FromMinutes(1);
        var certificates = DevCertificates.Write(work);
        var shape = settings.Shape;
        var results = new ScaleResults { Settings = settings, WebhookGc = BenchRun.GcMode(webhookDll, extraEnvironment) };

        await BaselineAsync(results, kube, quay, certificates, work, ct);

        Progress($"seeding {shape.Namespaces:N0} namespaces, {shape.Secrets:N0} managed Secrets, {shape.InjectedPods:N0} injected and {shape.OtherPods:N0} other Pods");
        var seeding = Stopwatch.StartNew();
        ScaleCluster.Seed(shape, kube, quay, DateTimeOffset.UtcNow);
        results.SeedTime = seeding.Elapsed;
        Progress($"seeded in {results.SeedTime.TotalSeconds:0.0} s");
        kube.ResetCounts();
        quay.ResetCounts();

        var clock = Stopwatch.StartNew();
        await using var webhook = await StartAsync(kube, quay, certificates, work, "webhook-scale", ct);
        results.ReadyTime = webhook.StartupTime;
        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{webhook.HealthPort}"), Timeout = TimeSpan.FromSeconds(10) };
        await SyncAsync(results, kube, quay, webhook, health, clock, ct);
        if (failures.Count > 0)
            return results;
        await SteadyAsync(results, kube, quay, webhook, health, ct);
        await RecreationsAsync(results, kube, quay, health, ct);
        return results;
    }

    /// <summary>The same process on the empty API: synced, idle, its resident set the baseline the caches grow from.</summary>
    private async Task BaselineAsync(ScaleResults results, FakeKubernetesApi kube, FakeQuay quay, DevCertificates certificates, string work, CancellationToken ct)
    {
        Progress("baseline: the webhook with the refresher on an empty API");
        var clock = Stopwatch.StartNew();
        await using var idle = await StartAsync(kube, quay, certificates, work, "webhook-scale-idle", ct);
        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{idle.HealthPort}"), Timeout = TimeSpan.FromSeconds(10) };
        var synced = await PollAsync(health, m => IsSynced(m, 0), SyncWithin, ct);
        Expect(synced is not null, $"the webhook on an empty API did not lead and sync within {SyncWithin.TotalSeconds:0} s:\n{idle.LogTail()}");
        var syncedAfter = clock.Elapsed;
        await Task.Delay(settings.IdleSettle, ct);
        (results.IdleRss, results.IdlePeak) = idle.Memory();
        Progress($"baseline: synced after {syncedAfter.TotalSeconds:0.0} s, RSS {Mib(results.IdleRss)}");
        // Stopped gracefully, it releases the Lease: the next process leads without waiting for it to expire.
    }

    private async Task SyncAsync(
        ScaleResults results, FakeKubernetesApi kube, FakeQuay quay, ChildProcess webhook, HttpClient health, Stopwatch clock, CancellationToken ct)
    {
        var secrets = settings.Shape.Secrets;
        Progress($"initial sync: waiting for the refresher to lead with {secrets:N0} Secrets and the Pod cache synced");
        var synced = await PollAsync(health, m => IsSynced(m, secrets), SyncWithin, ct);
        results.SyncTime = clock.Elapsed;
        results.SyncTraffic = kube.Traffic;
        (results.SyncRss, results.SyncPeak) = webhook.Memory();
        results.SyncCpu = webhook.CpuTime();
        if (synced is null)
        {
            Expect(false, $"the refresher did not sync {secrets:N0} Secrets within {SyncWithin.TotalSeconds:0} s:\n{webhook.LogTail()}");
            return;
        }
        Progress($"initial sync: {results.SyncTime.TotalSeconds:0.0} s, RSS {Mib(results.SyncRss)} (peak {Mib(results.SyncPeak)})");

        // The first resync queues every Secret once; steady state starts when that work is done.
        var drained = await PollAsync(health, m => m.Value(LastSuccess, "loop=\"resync\"") is not null && m.Value(QueueDepth) == 0, SyncWithin, ct);
        Expect(drained is not null, "the first resync's work was not done within the deadline");
        results.DrainedTime = clock.Elapsed;
        (results.DrainedRss, results.DrainedPeak) = webhook.Memory();
        results.SyncExchanges = quay.ExchangeCount;
        results.SyncWrites = kube.Count("secrets.create") + kube.Count("secrets.patch") + kube.Count("secrets.delete");
        Expect(results.SyncExchanges == 0 && results.SyncWrites == 0,
            $"the initial sync made {results.SyncExchanges} exchanges and {results.SyncWrites} Secret writes, expected none (every token is fresh)");
        Progress($"first resync worked off at {results.DrainedTime.TotalSeconds:0.0} s");
    }

    private async Task SteadyAsync(ScaleResults results, FakeKubernetesApi kube, FakeQuay quay, ChildProcess webhook, HttpClient health, CancellationToken ct)
    {
        Progress($"steady state: no changes for {settings.Steady.TotalSeconds:0} s");
        var before = await MetricsScrape.ReadAsync(health, ct);
        kube.ResetCounts();
        quay.ResetCounts();
        var cpu = webhook.CpuTime();
        var clock = Stopwatch.StartNew();
        var resyncs = new HashSet<double>();
        var peakRss = 0L;
        while (clock.Elapsed < settings.Steady)
        {
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            if ((await MetricsScrape.ReadAsync(health, ct)).Value(LastSuccess, "loop=\"resync\"") is { } at && at > (before.Value(LastSuccess, "loop=\"resync\"") ?? 0))
                resyncs.Add(at);
            peakRss = Math.Max(peakRss, webhook.Memory().Resident);
        }
        var after = await MetricsScrape.ReadAsync(health, ct);
        results.SteadyWall = clock.Elapsed;
        results.SteadyTraffic = kube.Traffic;
        results.SteadyCpu = webhook.CpuTime() - cpu;
        results.SteadyResyncs = resyncs.Count;
        results.SteadyWatchRestarts = (int)(after.Sum(WatchRestarts) - before.Sum(WatchRestarts));
        results.SteadyExchanges = quay.ExchangeCount;
        (results.SteadyRss, results.SteadyPeak) = webhook.Memory();
        results.SteadyMaxRss = Math.Max(peakRss, results.SteadyRss);
        Expect(results.SteadyExchanges == 0, $"the steady state made {results.SteadyExchanges} exchanges, expected none");
        Progress($"steady state: {results.SteadyResyncs} resyncs, {results.SteadyLists} LISTs, RSS {Mib(results.SteadyRss)}");
    }

    /// <summary>Deletes Secrets through the stand-in (a watch DELETED goes out) and times until the refresher has put each back.</summary>
    private async Task RecreationsAsync(ScaleResults results, FakeKubernetesApi kube, FakeQuay quay, HttpClient health, CancellationToken ct)
    {
        var shape = settings.Shape;
        var before = await MetricsScrape.ReadAsync(health, ct);
        kube.ResetCounts();
        quay.ResetCounts();
        for (var i = 0; i < settings.Deletions; i++)
        {
            // Spread over the namespaces: a different Secret, namespace and ServiceAccount each time.
            var key = ScaleCluster.Key(shape, (int)((i + 0.5) * shape.Secrets / settings.Deletions), quay.Host);
            var old = kube.GetSecret(key.Namespace, key.SecretName)!;
            Progress($"re-creation {i + 1}/{settings.Deletions}: deleting {key.Namespace}/{key.SecretName}");
            var clock = Stopwatch.StartNew();
            kube.DeleteSecret(key.Namespace, key.SecretName);
            TimeSpan? present = null, withToken = null;
            while (clock.Elapsed < RecreateWithin)
            {
                if (kube.GetSecret(key.Namespace, key.SecretName) is { } now && now.Metadata.Uid != old.Metadata.Uid)
                {
                    present ??= clock.Elapsed;
                    if (PullSecretManifest.ExpiresAt(now) is not null)
                    {
                        withToken = clock.Elapsed;
                        break;
                    }
                }
                await Task.Delay(TimeSpan.FromMilliseconds(5), ct);
            }
            Expect(withToken is not null, $"{key.Namespace}/{key.SecretName} was not re-created with a token within {RecreateWithin.TotalSeconds:0} s");
            if (withToken is null)
                return;
            results.Recreations.Add(new Recreation(present!.Value, withToken.Value));
            // The webhook's cache holds every Secret again before the next deletion.
            Expect(await PollAsync(health, m => m.Value(ManagedSecrets) == shape.Secrets, TimeSpan.FromSeconds(10), ct) is not null,
                "the refresher's cache did not count every Secret again after a re-creation");
        }
        var after = await MetricsScrape.ReadAsync(health, ct);
        // The histogram has no series before the first exchange: Sum reads that as 0.
        var exchanges = after.Sum(ExchangeSeconds + "_count") - before.Sum(ExchangeSeconds + "_count");
        var seconds = after.Sum(ExchangeSeconds + "_sum") - before.Sum(ExchangeSeconds + "_sum");
        results.MeanExchange = exchanges > 0 ? TimeSpan.FromSeconds(seconds / exchanges) : null;
        results.RecreationTraffic = kube.Traffic;
        results.RecreationExchanges = quay.ExchangeCount;
    }

    private static bool IsSynced(MetricsScrape metrics, int secrets) =>
        metrics.Value(ManagedSecrets) == secrets && metrics.Value(LastSuccess, "loop=\"pod-watch\"") is not null;

    /// <summary>Scrapes until <paramref name="condition"/> holds; null when it did not within <paramref name="within"/>.</summary>
    private static async Task<MetricsScrape?> PollAsync(HttpClient health, Func<MetricsScrape, bool> condition, TimeSpan within, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            var metrics = await MetricsScrape.ReadAsync(health, ct);
            if (condition(metrics))
                return metrics;
            await Task.Delay(MetricsPoll, ct);
        }
        return null;
    }

    private async Task<ChildProcess> StartAsync(FakeKubernetesApi kube, FakeQuay quay, DevCertificates certificates, string work, string name, CancellationToken ct)
    {
        var refresher = new Dictionary<string, string>
        {
            ["QuayAdmission__Refresher__Enabled"] = "true",
            ["QuayAdmission__Refresher__LeaseNamespace"] = LeaseNamespace,
            ["QuayAdmission__Refresher__Identity"] = name,
            ["POD_NAMESPACE"] = LeaseNamespace,
        };
        foreach (var (key, value) in extraEnvironment)
            refresher[key] = value;
        var environment = BenchRun.WebhookEnvironment(kube, quay, certificates, work, refresher);
        return await ChildProcess.StartAsync(webhookDll, [], Path.GetDirectoryName(webhookDll)!, environment,
            Path.Combine(outputDirectory, name + ".log"), pidFile, ct);
    }

    private void Expect(bool condition, string failure)
    {
        if (condition)
            return;
        failures.Add(failure);
        Progress("FAILED: " + failure);
    }

    private static void Progress(string message) => BenchRun.Progress("scale: " + message);

    internal static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB");
}

/// <summary>One deleted Secret: when a new one (new uid) appeared, and when it held a token.</summary>
internal sealed record Recreation(TimeSpan Present, TimeSpan WithToken);

internal sealed class ScaleResults
{
    public required ScaleSettings Settings { get; init; }
    public string WebhookGc { get; init; } = "";
    public TimeSpan SeedTime { get; set; }
    public long IdleRss { get; set; }
    public long IdlePeak { get; set; }
    public TimeSpan ReadyTime { get; set; }
    public TimeSpan SyncTime { get; set; }
    public TimeSpan SyncCpu { get; set; }
    public IReadOnlyDictionary<string, (int Requests, long ResponseBytes)> SyncTraffic { get; set; } = new Dictionary<string, (int, long)>();
    public long SyncRss { get; set; }
    public long SyncPeak { get; set; }
    public TimeSpan DrainedTime { get; set; }
    public long DrainedRss { get; set; }
    public long DrainedPeak { get; set; }
    public int SyncExchanges { get; set; }
    public int SyncWrites { get; set; }
    public TimeSpan SteadyWall { get; set; }
    public IReadOnlyDictionary<string, (int Requests, long ResponseBytes)> SteadyTraffic { get; set; } = new Dictionary<string, (int, long)>();
    public TimeSpan SteadyCpu { get; set; }
    public int SteadyResyncs { get; set; }
    public int SteadyWatchRestarts { get; set; }
    public int SteadyExchanges { get; set; }
    public long SteadyRss { get; set; }
    public long SteadyPeak { get; set; }
    public long SteadyMaxRss { get; set; }
    public List<Recreation> Recreations { get; } = [];
    public TimeSpan? MeanExchange { get; set; }
    public IReadOnlyDictionary<string, (int Requests, long ResponseBytes)> RecreationTraffic { get; set; } = new Dictionary<string, (int, long)>();
    public int RecreationExchanges { get; set; }

    /// <summary>LISTs of the steady window: the target is none (resyncs replay the cache; no Secret was due for deletion).</summary>
    public int SteadyLists => SteadyTraffic.Where(t => t.Key.EndsWith(".list", StringComparison.Ordinal)).Sum(t => t.Value.Requests);

    /// <summary>Growth of the resident set from the idle process on the empty API to the synced one.</summary>
    public long Growth => Math.Max(SyncRss, Math.Max(DrainedRss, SteadyRss)) - IdleRss;
}
