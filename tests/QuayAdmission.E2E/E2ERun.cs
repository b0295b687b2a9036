using System.Runtime.ExceptionServices;
using k8s;
using QuayAdmission.E2E.Harness;
using QuayAdmission.E2E.Scenarios;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;
using Xunit.Abstractions;

namespace QuayAdmission.E2E;

[CollectionDefinition(Name)]
public sealed class E2ERunDefinition : ICollectionFixture<E2ERun>
{
    public const string Name = "e2e";
}

/// <summary>
/// One run of `make e2e`: the control plane, the node and the Quay stand-in started once; the manifests
/// applied; the main group of webhook processes started; then the scenarios. Those that do not disturb
/// each other run at once (each on its own namespaces, its own Lease, its own processes); the token policy
/// scenario runs last, alone, since it deletes what every webhook identity's TokenRequest depends on.
/// Each test awaits its scenario's outcome, prints its log, and passes, fails or skips with it.
/// </summary>
public sealed class E2ERun : IAsyncLifetime
{
    /// <summary>A comma-separated subset of scenario names to run (e.g. <c>failover,api-cut</c>); the others are skipped, visibly.</summary>
    public const string SelectionVariable = "QUAY_ADMISSION_E2E_SCENARIOS";

    /// <summary>Set to 1 to leave the control plane and node running after the run (they are stopped only when this run started them).</summary>
    public const string KeepVariable = "QUAY_ADMISSION_E2E_KEEP";

    internal static readonly IReadOnlyList<IScenario> Concurrent =
        [new AdmissionScenario(), new FailoverScenario(), new RenewalScenario(), new NodeScenario(), new ApiCutScenario()];

    internal static readonly IScenario Last = new TokenPolicyScenario();

    private static readonly GroupSpec MainSpec = new("main", "quay-admission-refresher-main", [E2ENamespaces.Admission, E2ENamespaces.Renewal, E2ENamespaces.Node]);

    private readonly Dictionary<string, Task<ScenarioOutcome>> outcomes = [];
    private readonly Dictionary<string, string> kubeconfigs = [];
    private readonly List<WebhookGroup> groups = [];
    private string? skipReason;
    private Exception? setupError;
    private ScenarioLog setupLog = null!;
    private ControlPlane? cluster;
    private RealNode? node;
    private Task nodeStarted = Task.CompletedTask;
    private FakeQuay? quay;
    private E2EManifests? manifests;
    private WebhookBase? webhookBase;
    private WebhookGroup? main;
    private string? webhookToken;

    internal E2ELocations Locations { get; } = E2ELocations.FromEnvironment();

    internal Figures Figures => new(Path.Combine(Locations.ResultsDir, "figures.txt"));

    internal string WorkDir { get; } = Directory.CreateTempSubdirectory("quay-admission-e2e-").FullName;

    internal ControlPlane Cluster => cluster ?? throw new InvalidOperationException("no control plane");

    internal FakeQuay Quay => quay ?? throw new InvalidOperationException("no Quay stand-in");

    internal E2EManifests Manifests => manifests ?? throw new InvalidOperationException("manifests not rendered");

    internal WebhookGroup Main => main ?? throw new InvalidOperationException("the main group did not start");

    /// <summary>The node, if it is up (for the diagnostics).</summary>
    internal RealNode? NodeIfUp => node;

    /// <summary>Why the node scenario cannot run (no kubelet binary), or null.</summary>
    internal string? NodeUnavailable { get; private set; }

    private Exception? NodeError { get; set; }

    internal static IEnumerable<IScenario> All => [.. Concurrent, Last];

    public async Task InitializeAsync()
    {
        setupLog = new ScenarioLog("setup", Locations.LogsDir);
        skipReason = Locations.ControlPlaneMissing();
        if (skipReason is not null && await ControlPlane.IsRunningAsync(Locations))
            skipReason = null; // binaries absent, but a control plane answers: use it
        if (skipReason is not null)
        {
            setupLog.Line("skipping every scenario: " + skipReason);
            foreach (var scenario in All)
                Figures.Skipped(scenario.Number, scenario.Name, skipReason);
            return;
        }

        try
        {
            await SetUpAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            setupError = e;
            setupLog.Line("setup failed: " + e);
            foreach (var replica in main?.Replicas ?? [])
                setupLog.Block($"webhook {replica.Identity}, last 40 lines", string.Join('\n', replica.Lines.TakeLast(40)));
            if (cluster is not null)
                setupLog.Block("kube-apiserver log (last 40)", Diagnostics.TailOf(cluster.ApiServerLog, 40));
            foreach (var scenario in All)
                Figures.Failed(scenario.Number, scenario.Name, "setup failed: " + FirstLine(e.Message));
            return;
        }

        var selected = Selection();
        foreach (var scenario in Concurrent)
            outcomes[scenario.Name] = selected(scenario) ? Task.Run(() => RunScenarioAsync(scenario)) : Task.FromResult(NotSelected(scenario));
        var concurrent = outcomes.Values.ToList();
        outcomes[Last.Name] = selected(Last)
            ? Task.Run(async () =>
            {
                await Task.WhenAll(concurrent);
                return await RunScenarioAsync(Last);
            })
            : Task.FromResult(NotSelected(Last));
    }

    /// <summary>Awaits a scenario, prints its log to the test's output, and passes, fails or skips the test with it.</summary>
    internal async Task AssertAsync(IScenario scenario, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(output);
        Skip.If(skipReason is not null, skipReason);
        if (setupError is not null)
        {
            foreach (var line in setupLog.Lines.TakeLast(80))
                output.WriteLine(line);
            throw new InvalidOperationException($"the e2e setup failed ({Path.Combine(Locations.LogsDir, "setup.log")}): {setupError.Message}", setupError);
        }

        var outcome = await outcomes[scenario.Name];
        foreach (var line in outcome.Log.Lines)
            output.WriteLine(line);
        Skip.If(outcome.SkipReason is not null, outcome.SkipReason);
        if (outcome.Error is not null)
            ExceptionDispatchInfo.Throw(outcome.Error);
    }

    public async Task DisposeAsync()
    {
        try
        {
            await Task.WhenAll(outcomes.Values);
        }
        finally
        {
            await TearDownAsync();
        }
    }

    internal WebhookGroup NewGroup(GroupSpec spec, string server)
    {
        var group = new WebhookGroup(spec, webhookBase ?? throw new InvalidOperationException("no webhook settings"), WebhookKubeconfig(server));
        lock (groups)
            groups.Add(group);
        return group;
    }

    /// <summary>A kubeconfig file (owner-only) with the webhook ServiceAccount's token, for the API at <paramref name="server"/>.</summary>
    internal string WebhookKubeconfig(string server)
    {
        lock (kubeconfigs)
        {
            if (!kubeconfigs.TryGetValue(server, out var path))
            {
                path = Kubeconfigs.WriteWithToken(Path.Combine(WorkDir, $"webhook-{kubeconfigs.Count}.kubeconfig"), server, Cluster.CaFile, E2ESettings.WebhookServiceAccount,
                    webhookToken ?? throw new InvalidOperationException("no webhook token"));
                kubeconfigs[server] = path;
            }
            return path;
        }
    }

    private async Task SetUpAsync()
    {
        cluster = await ControlPlane.StartAsync(Locations, setupLog);
        var admin = new Kubectl(cluster.AdminKubeconfig, setupLog);
        await RemovePreviousRunAsync(admin, cluster);

        manifests = await E2EManifests.RenderAsync(E2ESettings.RegistryHost);
        await admin.MustWithInputAsync(manifests.ApplyYaml, "apply", "-f", "-");
        setupLog.Line($"applied from manifests/: {string.Join(", ", manifests.Kinds)}");

        var token = await admin.SecretAsync("-n", E2EManifests.Namespace, "create", "token", E2ESettings.WebhookServiceAccount, "--duration", E2ESettings.WebhookTokenDuration);
        if (token.ExitCode != 0)
            throw new InvalidOperationException($"kubectl create token {E2ESettings.WebhookServiceAccount}: {token.Stderr}");
        webhookToken = token.Stdout.Trim();
        await PreflightAsync(admin);

        quay = await FakeQuay.StartAsync(TimeProvider.System, https: true);
        quay.TokenLifetime = E2ESettings.TokenLifetime;
        quay.ExpectedAudience = E2ESettings.RegistryHost;
        quay.TrustIssuerKeys(ControlPlane.Issuer, ControlPlane.Jwks, cluster.Ca);
        setupLog.Line($"Quay stand-in at {quay.BaseAddress}: robot tokens for {Figures.Seconds(E2ESettings.TokenLifetime)}, ServiceAccount keys from {ControlPlane.Jwks}");

        // The node comes up (packages, image, kubelet) while the webhook processes start and the other scenarios run.
        NodeUnavailable = Locations.KubeletMissing();
        if (NodeUnavailable is null)
            nodeStarted = Task.Run(() => StartNodeAsync(quay));
        else
            setupLog.Line("no node: " + NodeUnavailable);

        webhookBase = new WebhookBase(
            NativeExecutable(),
            manifests.ConfigMapData,
            quay.BaseAddress,
            quay.WriteCaFile(Path.Combine(WorkDir, "quay-ca.crt")),
            DevCertificates.Write(WorkDir),
            Locations.LogsDir);

        main = NewGroup(MainSpec, ControlPlane.Server);
        await main.StartReplicaAsync("main-0");
        await main.StartReplicaAsync("main-1");
        await main.RegisterWebhookAsync(manifests, admin, main.Replicas[0]);
        var leader = await main.LeaderAsync(cluster.Api, TimeSpan.FromSeconds(60));
        setupLog.Line($"main group up: webhook at main-0 (https {main.Replicas[0].Process.HttpsPort}), refresher on {leader.Identity}");
    }

    private async Task StartNodeAsync(FakeQuay quayStandIn)
    {
        try
        {
            var started = await RealNode.StartAsync(Locations, setupLog);
            quayStandIn.WriteSigningKeyPem(started.PublicKeyFile);
            node = started;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
        {
            NodeError = e;
            setupLog.Line("node failed to start: " + e.Message);
        }
    }

    /// <summary>The node once realnode/up.sh is done: a skip when it cannot run here, a failure when it did not start.</summary>
    internal async Task<RealNode> NodeAsync()
    {
        await nodeStarted;
        if (NodeError is not null)
            throw new InvalidOperationException("the node did not start: " + NodeError.Message, NodeError);
        return node ?? throw new ScenarioSkippedException(NodeUnavailable ?? "the node is not up");
    }

    /// <summary>
    /// The webhook's identity must be able to mint what it mints (one registry audience, 600 s) before any
    /// scenario starts. If it cannot, an earlier run may have left the API server in
    /// kubernetes/kubernetes#130887 (a binding's param informer stopped for the life of the process): restart
    /// the control plane once, if this run started it, and ask again.
    /// </summary>
    private async Task PreflightAsync(Kubectl admin)
    {
        await admin.MustWithInputAsync(E2EPods.NamespaceJson(E2ENamespaces.Policy, group: null), "apply", "-f", "-");
        await admin.MustWithInputAsync(E2EPods.ServiceAccountJson(E2ENamespaces.Policy, TokenPolicyScenario.ServiceAccount), "apply", "-f", "-");
        var webhook = new Kubectl(WebhookKubeconfig(ControlPlane.Server), setupLog);
        async Task<string?> DeniedAsync()
        {
            var minted = await webhook.SecretAsync(TokenPolicyScenario.AllowedRequest);
            return minted.ExitCode == 0 ? null : minted.Stderr.Trim();
        }

        // RBAC and policies take effect within moments of their apply.
        string? denied = null;
        try
        {
            await Poll.UntilAsync("the webhook identity mints an allowed token", TimeSpan.FromSeconds(20), async () => (denied = await DeniedAsync()) is null);
            return;
        }
        catch (TimeoutException)
        {
        }

        if (!Cluster.StartedHere)
            throw new InvalidOperationException($"the webhook identity cannot mint an allowed token on the running control plane ({denied}); if an earlier run deleted the token policy's binding, restart it (realk8s/down.sh && up.sh: kubernetes/kubernetes#130887)");
        setupLog.Line($"the webhook identity cannot mint an allowed token ({denied}): restarting the control plane once");
        await Cluster.RestartAsync(setupLog);
        await Poll.UntilAsync("the webhook identity mints an allowed token after a control plane restart", TimeSpan.FromSeconds(60), async () => await DeniedAsync() is null);
    }

    private static async Task RemovePreviousRunAsync(Kubectl admin, ControlPlane cluster)
    {
        await admin.RunAsync("delete", "mutatingwebhookconfigurations,clusterrolebindings,clusterroles", "-l", E2ELabels.Selector, "--ignore-not-found");
        // Pods on the node first, forced: a kubelet that is not up (yet) must not hold their namespace.
        await admin.RunAsync("-n", E2ENamespaces.Node, "delete", "pods", "--all", "--force", "--grace-period=0", "--ignore-not-found");
        await admin.RunAsync("delete", "namespaces", "-l", E2ELabels.Selector, "--ignore-not-found", "--wait=false");
        await Poll.UntilAsync("the previous run's namespaces are gone", TimeSpan.FromMinutes(3), async () =>
        {
            var left = (await cluster.Api.CoreV1.ListNamespaceAsync(labelSelector: E2ELabels.Selector)).Items.Select(n => n.Metadata.Name).ToList();
            return (left.Count == 0, string.Join(", ", left));
        }, TimeSpan.FromSeconds(1));
        await admin.RunAsync(["-n", E2ESettings.LeaseNamespace, "delete", "leases", "--ignore-not-found",
            "quay-admission-refresher", "quay-admission-refresher-main", "quay-admission-refresher-cut"]);
        await admin.RunAsync("-n", E2ESettings.LeaseNamespace, "delete", "configmap", TokenPolicyScenario.RenamedConfigMap, "--ignore-not-found");
    }

    private async Task<ScenarioOutcome> RunScenarioAsync(IScenario scenario)
    {
        var log = new ScenarioLog(scenario.Name, Locations.LogsDir);
        await using var context = new ScenarioContext(this, log);
        try
        {
            var figure = await scenario.RunAsync(context);
            log.Line("passed: " + figure);
            Figures.Measured(scenario.Number, scenario.Name, figure);
            return new ScenarioOutcome(log, null, null);
        }
        catch (ScenarioSkippedException skipped)
        {
            log.Line("skipped: " + skipped.Message);
            Figures.Skipped(scenario.Number, scenario.Name, skipped.Message);
            return new ScenarioOutcome(log, skipped.Message, null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.Line("FAILED: " + e);
            Figures.Failed(scenario.Number, scenario.Name, string.Join("; ", [.. context.Figures, FirstLine(e.Message)]));
            await Diagnostics.CollectAsync(context);
            return new ScenarioOutcome(log, null, e);
        }
    }

    private async Task TearDownAsync()
    {
        var keep = Environment.GetEnvironmentVariable(KeepVariable) == "1";
        await nodeStarted;
        List<WebhookGroup> started;
        lock (groups)
            started = [.. groups];
        foreach (var group in started)
            await group.DisposeAsync();
        if (quay is not null)
            await quay.DisposeAsync();
        if (node is not null && cluster?.StartedHere == true && !keep)
            await node.StopAsync(setupLog);
        node?.Dispose();
        if (cluster?.StartedHere == true && !keep)
            await cluster.StopAsync(setupLog);
        cluster?.Dispose();
        Directory.Delete(WorkDir, recursive: true);
    }

    private static string NativeExecutable()
    {
        var path = Environment.GetEnvironmentVariable("QUAY_ADMISSION_NATIVE_BIN");
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
            throw new InvalidOperationException($"QUAY_ADMISSION_NATIVE_BIN={path}: no such file (make e2e publishes the native webhook and sets it)");
        return Path.GetFullPath(path);
    }

    private static Func<IScenario, bool> Selection()
    {
        var names = Environment.GetEnvironmentVariable(SelectionVariable)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return scenario => names is not { Length: > 0 } || names.Contains(scenario.Name, StringComparer.Ordinal);
    }

    private ScenarioOutcome NotSelected(IScenario scenario)
    {
        var reason = $"not selected ({SelectionVariable}={Environment.GetEnvironmentVariable(SelectionVariable)})";
        Figures.Skipped(scenario.Number, scenario.Name, reason);
        return new ScenarioOutcome(new ScenarioLog(scenario.Name, logsDir: null), reason, null);
    }

    /// <summary>A message on one line for figures.txt, cut at 300 characters.</summary>
    private static string FirstLine(string text)
    {
        var flat = string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return flat.Length <= 300 ? flat : flat[..300] + " ...";
    }
}

/// <param name="SkipReason">Set when the scenario could not run here.</param>
/// <param name="Error">The failed expectation, with the diagnostics already in the log.</param>
internal sealed record ScenarioOutcome(ScenarioLog Log, string? SkipReason, Exception? Error);
