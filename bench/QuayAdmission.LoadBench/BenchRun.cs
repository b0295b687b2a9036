using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.LoadBench;

/// <summary>How long and how hard each scenario runs; the defaults keep `make bench` under five minutes on two cores.</summary>
internal sealed record BenchSettings
{
    public TimeSpan ServerWarmup { get; init; } = TimeSpan.FromSeconds(4);
    public TimeSpan SaturationWarmup { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan SaturationMeasure { get; init; } = TimeSpan.FromSeconds(6);
    public int Rate { get; init; } = 500;
    public TimeSpan RateWarmup { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan RateMeasure { get; init; } = TimeSpan.FromSeconds(8);
    public IReadOnlyList<int> Connections { get; init; } = [16, 64];
    public int ColdAdmissions { get; init; } = 500;
    public int ColdKeys { get; init; } = 50;
    public int ColdConnections { get; init; } = 64;
    public int ManyKeys { get; init; } = 10_000;
    public int ManyKeysConnections { get; init; } = 64;
    public int AllocationWarmup { get; init; } = 3_000;
    public int AllocationRequests { get; init; } = 20_000;
    public int AllocationConnections { get; init; } = 16;
    public int StartupRuns { get; init; } = 5;
    public int StartupBurst { get; init; } = 64;

    /// <summary>A run of a few tens of seconds to check the bench itself; its numbers mean little.</summary>
    public static BenchSettings Quick { get; } = new()
    {
        ServerWarmup = TimeSpan.FromSeconds(2),
        SaturationWarmup = TimeSpan.FromSeconds(0.5),
        SaturationMeasure = TimeSpan.FromSeconds(2),
        RateWarmup = TimeSpan.FromSeconds(0.5),
        RateMeasure = TimeSpan.FromSeconds(2),
        ManyKeys = 1_000,
        AllocationWarmup = 500,
        AllocationRequests = 2_000,
        StartupRuns = 2,
    };
}

/// <summary>One way of building the webhook, and its floor built the same way.</summary>
/// <param name="Webhook">QuayAdmission.dll (run with dotnet) or the native executable.</param>
/// <param name="Floor">QuayAdmission.Floor.dll or its native executable.</param>
internal sealed record Build(string Name, string Webhook, string Floor);

/// <summary>
/// The whole `make bench` run: for each build (JIT, then Native AOT), stand-ins for the Kubernetes
/// API and Quay in this process, that build's webhook and floor as child processes, every scenario
/// in turn; then the allocation count (the same code either way, counted on the JIT); then the report.
/// </summary>
internal sealed class BenchRun(BenchSettings settings, IReadOnlyList<Build> builds, string outputDirectory, IReadOnlyDictionary<string, string> extraEnvironment)
{
    private const string Robot = "acme+puller";
    private const string WarmNamespace = "bench-warm";
    private const string ColdNamespace = "bench-cold";
    private const string ManyNamespace = "bench-many";

    private readonly string pidFile = Path.Combine(outputDirectory, "pids");
    private readonly List<string> failures = [];

    /// <summary>Correctness problems found on the way: any one makes the numbers untrustworthy.</summary>
    public IReadOnlyList<string> Failures => failures;

    public async Task<BenchResults> RunAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(outputDirectory);
        foreach (var stale in Directory.EnumerateFiles(outputDirectory, "*.log"))
            File.Delete(stale);
        var results = new BenchResults { Settings = settings, ExtraEnvironment = extraEnvironment };
        foreach (var build in builds)
            results.Builds.Add(await RunBuildAsync(build, ct));
        if (builds.FirstOrDefault(b => b.Webhook.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) is { } jit)
            await AllocationsAsync(results, jit, ct);
        return results;
    }

    /// <summary>Every scenario against one build, with stand-ins of its own so no Secret or count carries over.</summary>
    private async Task<BuildResults> RunBuildAsync(Build build, CancellationToken ct)
    {
        var prefix = build.Name.ToLowerInvariant().Replace(' ', '-');
        var work = Directory.CreateDirectory(Path.Combine(outputDirectory, "work-" + prefix)).FullName;
        await using var kube = await FakeKubernetesApi.StartAsync(TimeProvider.System, ct);
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, ct: ct);
        var certificates = DevCertificates.Write(work);
        var results = new BuildResults { Name = build.Name, WebhookGc = GcMode(build.Webhook, extraEnvironment) };
        var validate = TrustOnly(certificates.Ca);
        Trust(quay, kube, WarmNamespace, ["default"]);
        Trust(quay, kube, ColdNamespace, ColdServiceAccounts());
        Trust(quay, kube, ManyNamespace, ManyServiceAccounts());
        var webhookEnvironment = WebhookEnvironment(kube, quay, certificates, work, extraEnvironment);

        // Startup: all but the last instance stop at once; the last one serves every scenario.
        Progress($"{build.Name} startup: {settings.StartupRuns} starts of the webhook process");
        var startups = new List<TimeSpan>();
        for (var i = 1; i < settings.StartupRuns; i++)
        {
            await using var once = await StartWebhookAsync(build, webhookEnvironment, $"{prefix}-webhook-start-{i}", ct);
            startups.Add(once.StartupTime);
        }
        var webhook = await StartWebhookAsync(build, webhookEnvironment, $"{prefix}-webhook", ct);
        ChildProcess? floor = null;
        try
        {
            startups.Add(webhook.StartupTime);
            results.Startups = startups;
            floor = await StartFloorAsync(build, certificates, $"{prefix}-floor", ct);

            var webhookTarget = new Target("webhook", webhook, validate);
            var floorTarget = new Target("floor", floor, validate);
            var warmPod = BenchPods.Pod(WarmNamespace, "default", Robot);
            await StartupBurstAsync(results, quay, webhookTarget, warmPod, ct);
            var warmRequests = Enumerable.Range(0, 256).Select(_ => BenchRequest.Review(warmPod, webhook.HttpsPort)).ToList();
            var floorRequests = Enumerable.Range(0, 256).Select(_ => BenchRequest.Review(warmPod, floor.HttpsPort)).ToList();
            results.ReviewBytes = warmRequests[0].BodyLength;

            await WarmPathAsync(results, kube, quay, webhookTarget, floorTarget, warmRequests, floorRequests, ct);
            results.PeakRssAfterWarm = webhook.Memory().Peak;
            results.FloorPeakRss = floor.Memory().Peak;
            await ColdPathAsync(results, kube, quay, webhookTarget, ct);
            results.PeakRssAfterRuns = webhook.Memory().Peak;
            await ManyKeysAsync(results, kube, quay, webhook, webhookTarget, ct);
        }
        finally
        {
            await webhook.DisposeAsync();
            if (floor is not null)
                await floor.DisposeAsync();
        }
        return results;
    }

    /// <summary>
    /// For profiling (`soak` mode): the webhook alone at saturation for <paramref name="duration"/> on
    /// the warm key, its pid printed first so dotnet-trace or dotnet-counters can attach.
    /// </summary>
    public async Task SoakAsync(TimeSpan duration, int connections, CancellationToken ct)
    {
        Directory.CreateDirectory(outputDirectory);
        var work = Directory.CreateDirectory(Path.Combine(outputDirectory, "work")).FullName;
        await using var kube = await FakeKubernetesApi.StartAsync(TimeProvider.System, ct);
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, ct: ct);
        var certificates = DevCertificates.Write(work);
        Trust(quay, kube, WarmNamespace, ["default"]);
        await using var webhook = await StartWebhookAsync(builds[0], WebhookEnvironment(kube, quay, certificates, work, extraEnvironment), "webhook-soak", ct);
        var target = new Target("webhook", webhook, TrustOnly(certificates.Ca));
        var pod = BenchPods.Pod(WarmNamespace, "default", Robot);
        var requests = Enumerable.Range(0, 256).Select(_ => BenchRequest.Review(pod, webhook.HttpsPort)).ToList();
        Progress($"webhook pid {webhook.Id}: warming up, then {connections} connections at saturation for {duration.TotalSeconds:0} s");
        var run = await LoadGenerator.SaturateAsync(target, requests, connections, settings.ServerWarmup, duration, ct);
        Progress($"{run.RequestsPerSecond:N0} req/s, {run.CpuMicrosecondsPerRequest:N0} µs server CPU per request, p99 {run.Latency.P99:0.00} ms, " +
            $"peak RSS {webhook.Memory().Peak / (1024.0 * 1024):0.0} MiB, started in {webhook.StartupTime.TotalMilliseconds:0} ms, {run.Errors} errors {run.FirstError}");
    }

    /// <summary>The webhook's configuration, as a pod's environment would carry it, pointed at the stand-ins on loopback.</summary>
    internal static Dictionary<string, string> WebhookEnvironment(
        FakeKubernetesApi kube, FakeQuay quay, DevCertificates certificates, string work, IReadOnlyDictionary<string, string> extraEnvironment)
    {
        var environment = Tests.Support.WebhookEnvironment.ForStandIns(kube, quay, certificates, work);
        environment["QuayAdmission__Server__BindAddress"] = "127.0.0.1";
        environment["QuayAdmission__Server__HttpsPort"] = "{https}";
        environment["QuayAdmission__Server__HealthPort"] = "{health}";
        // The warm window lasts minutes: keep ServiceAccount and Namespace annotations from being
        // re-read in the background during it, so any API call counted below is the admission path's.
        environment["QuayAdmission__ScopeCacheTtl"] = "01:00:00";
        foreach (var (name, value) in extraEnvironment)
            environment[name] = value;
        return environment;
    }

    /// <summary>
    /// The first admissions a fresh process gets, all at once, as after a rollout under load: a
    /// process that is ready must answer them. The warm key is minted here (once: single flight).
    /// Slow or unanswered requests are reported, not failed: this measures the webhook, not the bench.
    /// </summary>
    private async Task StartupBurstAsync(BuildResults results, FakeQuay quay, Target webhook, string warmPod, CancellationToken ct)
    {
        Progress($"{results.Name} startup burst: {settings.StartupBurst} admissions at once on the freshly ready process");
        var requests = Enumerable.Range(0, settings.StartupBurst).Select(_ => BenchRequest.Review(warmPod, webhook.Endpoint.Port, allowDegraded: true)).ToList();
        results.StartupBurst = await LoadGenerator.DrainAsync(webhook, requests, settings.StartupBurst, StartupBurstExpected, ct);
        if (results.StartupBurst.Errors > 0)
            Progress($"{results.Name} startup burst: {results.StartupBurst.Errors} of {settings.StartupBurst} admissions failed or went unanswered: {results.StartupBurst.FirstError}");
        results.StartupBurstExchanges = quay.ExchangeCount;
    }

    // The planned time for the startup burst; past it and the load generator's grace, requests count as unanswered.
    private static readonly TimeSpan StartupBurstExpected = TimeSpan.FromSeconds(5);

    private async Task WarmPathAsync(
        BuildResults results, FakeKubernetesApi kube, FakeQuay quay, Target webhook, Target floor,
        IReadOnlyList<BenchRequest> warmRequests, IReadOnlyList<BenchRequest> floorRequests, CancellationToken ct)
    {
        // The warm key was minted by the startup burst; one more admission proves its token is ready.
        var prime = await LoadGenerator.DrainAsync(webhook, warmRequests.Take(1).ToList(), 1, TimeSpan.FromSeconds(10), ct);
        Expect(prime.Errors == 0, $"{results.Name}: priming the warm key failed: {prime.FirstError}");
        Expect(quay.ExchangeCount == 1, $"{results.Name}: the startup burst and priming made {quay.ExchangeCount} exchanges for the warm key, expected 1");
        // Both servers at saturation once, uncounted, so tiered compilation has settled before any clock runs.
        foreach (var (target, requests) in new[] { (floor, floorRequests), (webhook, warmRequests) })
        {
            Progress($"{results.Name} warm-up: {target.Name}, {settings.ServerWarmup.TotalSeconds:0} s at saturation");
            var warmup = await LoadGenerator.SaturateAsync(target, requests, settings.Connections[0], TimeSpan.Zero, settings.ServerWarmup, ct);
            Expect(warmup.Errors == 0, $"{results.Name} {target.Name} warm-up: {warmup.Errors} errors, first: {warmup.FirstError}");
        }
        kube.ResetCounts();
        quay.ResetCounts();

        foreach (var connections in settings.Connections)
        {
            foreach (var (target, requests) in new[] { (floor, floorRequests), (webhook, warmRequests) })
            {
                Progress($"{results.Name} warm: {target.Name}, {connections} connections, saturation for {settings.SaturationMeasure.TotalSeconds:0} s");
                var saturation = await LoadGenerator.SaturateAsync(target, requests, connections, settings.SaturationWarmup, settings.SaturationMeasure, ct);
                Expect(saturation.Errors == 0, $"{results.Name} {target.Name} saturation with {connections} connections: {saturation.Errors} errors, first: {saturation.FirstError}");

                Progress($"{results.Name} warm: {target.Name}, {connections} connections, {settings.Rate} req/s for {settings.RateMeasure.TotalSeconds:0} s");
                var rate = await LoadGenerator.FixedRateAsync(target, requests, connections, settings.Rate, settings.RateWarmup, settings.RateMeasure, ct);
                Expect(rate.Errors == 0, $"{results.Name} {target.Name} at {settings.Rate} req/s with {connections} connections: {rate.Errors} errors, first: {rate.FirstError}");
                results.Warm.Add(new WarmResult(target.Name, connections, saturation, rate));
            }
        }

        // Warm means warm: not one call to the API or to Quay while the clocks ran. The refresher's
        // own work (its Lease, its list passes) goes on beside admission and is not counted.
        var warmCalls = kube.Requests.Where(r => !IsBackground(r.Operation)).ToList();
        results.WarmApiCalls = warmCalls.Count;
        results.WarmExchanges = quay.ExchangeCount;
        Expect(results.WarmApiCalls == 0 && results.WarmExchanges == 0,
            $"{results.Name}: the warm runs made {results.WarmApiCalls} Kubernetes API calls ({string.Join(", ", warmCalls.Select(r => r.Operation).Distinct())}) and {results.WarmExchanges} exchanges, expected none");
    }

    /// <summary>
    /// Calls the webhook makes on its own schedule, not because of a review (and Quay's key discovery):
    /// the Lease, events, and the caches' lists and watches (the Pod watch opens whenever this
    /// process starts leading, which after a restart may be during the warm runs).
    /// </summary>
    private static bool IsBackground(string operation) =>
        operation.StartsWith("leases.", StringComparison.Ordinal) || operation.StartsWith("events.", StringComparison.Ordinal)
        || operation.EndsWith(".watch", StringComparison.Ordinal)
        || operation is "secrets.list" or "pods.list" or "jwks" or "discovery";

    private async Task ColdPathAsync(BuildResults results, FakeKubernetesApi kube, FakeQuay quay, Target webhook, CancellationToken ct)
    {
        var accounts = ColdServiceAccounts();
        // Interleaved, so every key is asked for again and again while its first exchange is in flight.
        var requests = Enumerable.Range(0, settings.ColdAdmissions)
            .Select(i => BenchRequest.Review(BenchPods.Pod(ColdNamespace, accounts[i % accounts.Count], Robot), webhook.Endpoint.Port))
            .ToList();
        kube.ResetCounts();
        quay.ResetCounts();
        Progress($"{results.Name} cold: {settings.ColdAdmissions} admissions at once over {settings.ColdKeys} keys, {settings.ColdConnections} connections");
        var burst = await LoadGenerator.DrainAsync(webhook, requests, settings.ColdConnections, TimeSpan.FromSeconds(60), ct);
        results.Cold = new ColdResult(burst, accounts.Count, quay.ExchangeCount, kube.Count("tokenrequest"), kube.Count("secrets.create"), kube.Count("secrets.get"));
        Expect(burst.Errors == 0, $"{results.Name} cold burst: {burst.Errors} errors, first: {burst.FirstError}");
        Expect(results.Cold.Exchanges == settings.ColdKeys, $"{results.Name} cold burst made {results.Cold.Exchanges} exchanges, expected {settings.ColdKeys} (one per key)");
    }

    private async Task ManyKeysAsync(BuildResults results, FakeKubernetesApi kube, FakeQuay quay, ChildProcess webhookProcess, Target webhook, CancellationToken ct)
    {
        var requests = ManyServiceAccounts()
            .Select(account => BenchRequest.Review(BenchPods.Pod(ManyNamespace, account, Robot), webhook.Endpoint.Port))
            .ToList();
        kube.ResetCounts();
        quay.ResetCounts();
        Progress($"{results.Name} keys: {settings.ManyKeys} distinct ServiceAccounts, {settings.ManyKeysConnections} connections");
        var run = await LoadGenerator.DrainAsync(webhook, requests, settings.ManyKeysConnections, TimeSpan.FromSeconds(150), ct);
        var (resident, peak) = webhookProcess.Memory();
        results.ManyKeys = new ManyKeysResult(run, quay.ExchangeCount, resident, peak);
        Expect(run.Errors == 0, $"{results.Name} {settings.ManyKeys} keys: {run.Errors} errors, first: {run.FirstError}");
        Expect(results.ManyKeys.Exchanges == settings.ManyKeys, $"{results.Name} {settings.ManyKeys} keys made {results.ManyKeys.Exchanges} exchanges");
    }

    /// <summary>
    /// Bytes allocated per warm request, webhook and floor, each alone: the webhook hosted in this
    /// program (`host` mode), since the separate process exposes no allocation counter.
    /// </summary>
    private async Task AllocationsAsync(BenchResults results, Build build, CancellationToken ct)
    {
        Progress($"allocations: {settings.AllocationRequests} warm requests, webhook hosted in-process, then the floor ({build.Name})");
        var work = Directory.CreateDirectory(Path.Combine(outputDirectory, "work-allocations")).FullName;
        await using var kube = await FakeKubernetesApi.StartAsync(TimeProvider.System, ct);
        await using var quay = await FakeQuay.StartAsync(TimeProvider.System, ct: ct);
        var certificates = DevCertificates.Write(work);
        var validate = TrustOnly(certificates.Ca);
        Trust(quay, kube, WarmNamespace, ["default"]);
        var warmPod = BenchPods.Pod(WarmNamespace, "default", Robot);

        await using (var host = await ChildProcess.StartAsync(BenchDll, ["host"], Path.GetDirectoryName(build.Webhook)!, WebhookEnvironment(kube, quay, certificates, work, extraEnvironment),
            Path.Combine(outputDirectory, "webhook-host.log"), pidFile, ct))
        {
            var hostRequests = Enumerable.Range(0, 256).Select(_ => BenchRequest.Review(warmPod, host.HttpsPort)).ToList();
            results.WebhookAllocation = await AllocationPerRequestAsync(host, new Target("webhook (in-process host)", host, validate), hostRequests, ct);
        }
        await using var floor = await StartFloorAsync(build, certificates, "floor-allocations", ct);
        var floorRequests = Enumerable.Range(0, 256).Select(_ => BenchRequest.Review(warmPod, floor.HttpsPort)).ToList();
        results.FloorAllocation = await AllocationPerRequestAsync(floor, new Target("floor", floor, validate), floorRequests, ct);
    }

    /// <summary>GC.GetTotalAllocatedBytes of the server, read with the connections open and idle, before and after the counted requests.</summary>
    private async Task<AllocationResult> AllocationPerRequestAsync(ChildProcess server, Target target, IReadOnlyList<BenchRequest> requests, CancellationToken ct)
    {
        using var counter = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.HealthPort}"), Timeout = TimeSpan.FromSeconds(5) };
        async Task<long> ReadAsync() =>
            long.Parse(await counter.GetStringAsync(new Uri(AllocationCounter.Path, UriKind.Relative), ct), CultureInfo.InvariantCulture);

        var warmup = await LoadGenerator.DrainAsync(target, Cycle(requests, settings.AllocationWarmup), settings.AllocationConnections, TimeSpan.FromSeconds(60), ct);
        Expect(warmup.Errors == 0, $"allocation warm-up on {target.Name}: {warmup.Errors} errors, first: {warmup.FirstError}");

        // What one read of the counter and a second of idling cost, to show how little the window adds.
        var idleStart = await ReadAsync();
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        var idleBytes = await ReadAsync() - idleStart;

        long before = 0, after = 0;
        var run = await LoadGenerator.DrainAsync(target, Cycle(requests, settings.AllocationRequests), settings.AllocationConnections, TimeSpan.FromSeconds(60),
            ready: async () => before = await ReadAsync(),
            finished: async () => after = await ReadAsync(),
            ct);
        Expect(run.Errors == 0, $"allocation run on {target.Name}: {run.Errors} errors, first: {run.FirstError}");
        return new AllocationResult(run.Completed, after - before, idleBytes);
    }

    private async Task<ChildProcess> StartWebhookAsync(Build build, Dictionary<string, string> environment, string name, CancellationToken ct) =>
        await ChildProcess.StartAsync(build.Webhook, [], Path.GetDirectoryName(build.Webhook)!, environment, Path.Combine(outputDirectory, name + ".log"), pidFile, ct);

    /// <summary>The floor, with the webhook's runtime settings from the extra environment too, so a GC experiment applies to both.</summary>
    private async Task<ChildProcess> StartFloorAsync(Build build, DevCertificates certificates, string name, CancellationToken ct)
    {
        var environment = new Dictionary<string, string>(extraEnvironment.Where(e => e.Key.StartsWith("DOTNET_", StringComparison.Ordinal)))
        {
            ["FLOOR_CERT"] = certificates.CertFile,
            ["FLOOR_KEY"] = certificates.KeyFile,
            ["FLOOR_HTTPS_PORT"] = "{https}",
            ["FLOOR_HEALTH_PORT"] = "{health}",
        };
        return await ChildProcess.StartAsync(build.Floor, [], Path.GetDirectoryName(build.Floor)!, environment, Path.Combine(outputDirectory, name + ".log"), pidFile, ct);
    }

    private List<string> ColdServiceAccounts() => [.. Enumerable.Range(0, settings.ColdKeys).Select(i => $"cold-{i:00}")];

    private List<string> ManyServiceAccounts() => [.. Enumerable.Range(0, settings.ManyKeys).Select(i => $"sa-{i:00000}")];

    private static void Trust(FakeQuay quay, FakeKubernetesApi kube, string ns, IEnumerable<string> serviceAccounts)
    {
        foreach (var account in serviceAccounts)
            quay.TrustSubject(Robot, kube.Issuer, $"system:serviceaccount:{ns}:{account}");
    }

    private static List<BenchRequest> Cycle(IReadOnlyList<BenchRequest> requests, int count) =>
        [.. Enumerable.Range(0, count).Select(i => requests[i % requests.Count])];

    /// <summary>kube-apiserver's view: the caBundle's CA and nothing else, and the right name.</summary>
    private static RemoteCertificateValidationCallback TrustOnly(X509Certificate2 ca) => (_, certificate, _, errors) =>
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    };

    /// <summary>The GC the webhook runs with: its runtimeconfig.json (JIT) or its project file (native), unless the extra environment overrides it.</summary>
    internal static string GcMode(string app, IReadOnlyDictionary<string, string> environment)
    {
        if (environment.TryGetValue("DOTNET_gcServer", out var overridden))
            return overridden == "1" ? "server GC (DOTNET_gcServer=1)" : "workstation GC (DOTNET_gcServer=0)";
        var config = Path.ChangeExtension(app, ".runtimeconfig.json");
        if (!app.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            return "the GC settings compiled in (src/QuayAdmission/QuayAdmission.csproj)";
        if (!File.Exists(config))
            return "GC mode unknown";
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(config));
        var server = json.RootElement.TryGetProperty("runtimeOptions", out var options)
            && options.TryGetProperty("configProperties", out var properties)
            && properties.TryGetProperty("System.GC.Server", out var value)
            && value.ValueKind == System.Text.Json.JsonValueKind.True;
        return server ? "server GC (its runtimeconfig.json)" : "workstation GC (its runtimeconfig.json)";
    }

    private static string BenchDll => typeof(BenchRun).Assembly.Location;

    private void Expect(bool condition, string failure)
    {
        if (condition)
            return;
        failures.Add(failure);
        Progress("FAILED: " + failure);
    }

    public static void Progress(string message) =>
        Console.Error.WriteLine($"[bench {DateTime.Now:HH:mm:ss}] {message}");
}

internal sealed record WarmResult(string Server, int Connections, SaturationResult Saturation, RateResult Rate);

internal sealed record ColdResult(QueueResult Burst, int Keys, int Exchanges, int TokenRequests, int SecretsCreated, int SecretReads);

internal sealed record ManyKeysResult(QueueResult Run, int Exchanges, long ResidentBytes, long PeakBytes);

internal sealed record AllocationResult(int Requests, long Bytes, long IdleBytesPerSecond)
{
    public double PerRequest => (double)Bytes / Requests;
}

internal sealed class BenchResults
{
    public required BenchSettings Settings { get; init; }
    public IReadOnlyDictionary<string, string> ExtraEnvironment { get; init; } = new Dictionary<string, string>();
    public List<BuildResults> Builds { get; } = [];
    public AllocationResult? WebhookAllocation { get; set; }
    public AllocationResult? FloorAllocation { get; set; }
}

/// <summary>What one build (JIT or native) measured against its own floor.</summary>
internal sealed class BuildResults
{
    public required string Name { get; init; }
    public string WebhookGc { get; init; } = "";
    public List<TimeSpan> Startups { get; set; } = [];
    public QueueResult? StartupBurst { get; set; }
    public int StartupBurstExchanges { get; set; }
    public int ReviewBytes { get; set; }
    public List<WarmResult> Warm { get; } = [];
    public int WarmApiCalls { get; set; }
    public int WarmExchanges { get; set; }
    public ColdResult? Cold { get; set; }
    public long PeakRssAfterWarm { get; set; }
    public long PeakRssAfterRuns { get; set; }
    public long FloorPeakRss { get; set; }
    public ManyKeysResult? ManyKeys { get; set; }
}
