using k8s;
using k8s.Models;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.E2E.Harness;

/// <summary>One scenario of the run: its number and name (as figures.txt and the test names say them), and its steps.</summary>
internal interface IScenario
{
    int Number { get; }

    string Name { get; }

    /// <summary>Runs the scenario; returns the line of figures it measured. Throws on a failed expectation.</summary>
    Task<string> RunAsync(ScenarioContext context);
}

/// <summary>A scenario that cannot run here for a reason outside the code under test (e.g. no kubelet binary): reported skipped, never passed.</summary>
internal sealed class ScenarioSkippedException(string reason) : Exception(reason);

/// <summary>
/// What a scenario works with: the cluster, Quay, the node, kubectl as admin, and the groups of webhook
/// processes it starts (stopped when it ends). It also remembers what to show when the scenario fails:
/// its namespaces, groups and robots.
/// </summary>
internal sealed class ScenarioContext : IAsyncDisposable
{
    private readonly E2ERun run;
    private readonly List<WebhookGroup> ownGroups = [];
    private readonly List<IAsyncDisposable> ownResources = [];
    private readonly List<string> figures = [];

    public ScenarioContext(E2ERun run, ScenarioLog log)
    {
        this.run = run;
        Log = log;
        Admin = new Kubectl(run.Cluster.AdminKubeconfig, log);
    }

    public ScenarioLog Log { get; }

    public Kubectl Admin { get; }

    public ControlPlane Cluster => run.Cluster;

    public IKubernetes Api => run.Cluster.Api;

    public FakeQuay Quay => run.Quay;

    public E2EManifests Manifests => run.Manifests;

    /// <summary>The group every run starts first (namespaces e2e-admission, e2e-renewal, e2e-node), with its webhook configuration.</summary>
    public WebhookGroup Main => run.Main;

    /// <summary>Waits for the node's start; skips the scenario when the node cannot run here, fails it when the node did not start.</summary>
    public Task<RealNode> NodeAsync() => run.NodeAsync();

    /// <summary>The node, for the diagnostics, if it is up.</summary>
    public RealNode? NodeIfUp => run.NodeIfUp;

    public List<string> Namespaces { get; } = [];

    public List<WebhookGroup> Groups { get; } = [];

    public List<string> Robots { get; } = [];

    /// <summary>What was measured so far, in the order measured; also reported when a later step fails.</summary>
    public IReadOnlyList<string> Figures => figures;

    public void Measured(string figure)
    {
        figures.Add(figure);
        Log.Line("measured: " + figure);
    }

    public Kubectl KubectlAs(string kubeconfig) => new(kubeconfig, Log);

    /// <summary>A kubeconfig for the webhook's own identity (its ServiceAccount's token) against <paramref name="server"/>.</summary>
    public string WebhookKubeconfig(string server = ControlPlane.Server) => run.WebhookKubeconfig(server);

    public string WorkDir => run.WorkDir;

    /// <summary>A namespace served by <paramref name="group"/> (null: by none), with these ServiceAccounts.</summary>
    public async Task CreateNamespaceAsync(string name, string? group, params string[] serviceAccounts)
    {
        Namespaces.Add(name);
        await Admin.MustWithInputAsync(E2EPods.NamespaceJson(name, group), "apply", "-f", "-");
        foreach (var serviceAccount in serviceAccounts)
            await Admin.MustWithInputAsync(E2EPods.ServiceAccountJson(name, serviceAccount), "apply", "-f", "-");
    }

    /// <summary>
    /// <c>kubectl create</c> of a Pod, returning it as the API server stored it (after the webhooks). A
    /// ServiceAccount created a moment ago may not be in the ServiceAccount admission plugin's cache yet:
    /// that refusal is asked again for a few seconds; any other fails at once.
    /// </summary>
    public async Task<V1Pod> CreatePodAsync(string podJson, params string[] extra)
    {
        string[] arguments = ["create", "-f", "-", "-o", "json", .. extra];
        var created = await Poll.UntilAsync("kubectl create of a Pod", TimeSpan.FromSeconds(15), async () =>
        {
            var result = await Admin.WithInputAsync(podJson, arguments);
            if (result.ExitCode != 0 && !result.Stderr.Contains("error looking up service account", StringComparison.Ordinal))
                throw new FinalAnswerException($"kubectl create of a Pod failed (exit {result.ExitCode}): {result.Stderr.Trim()}");
            return (result.ExitCode == 0, new Observed<string>(result.Stdout, result.Stderr.Trim()));
        }, TimeSpan.FromSeconds(1));
        return KubernetesJson.Deserialize<V1Pod>(created.Value);
    }

    /// <summary>Waits until the pull Secret holds a token, and (for one re-created) has another uid than <paramref name="notUid"/>.</summary>
    public async Task<PullSecretView> SecretWithTokenAsync(string ns, string name, TimeSpan within, string? notUid = null) =>
        (await Poll.UntilAsync($"Secret {ns}/{name} holds a token{(notUid is null ? "" : $" (a uid other than {notUid})")}", within, async () =>
        {
            var view = await Api.PullSecretAsync(ns, name);
            return (view is { HasToken: true } && view.Uid != notUid, new Observed<PullSecretView?>(view, view?.ToString() ?? "absent"));
        })).Value!;

    /// <summary>Lets tokens of <paramref name="ns"/>/<paramref name="serviceAccount"/> (the real API server's issuer) act as <paramref name="robot"/> at Quay.</summary>
    public void Trust(string robot, string ns, string serviceAccount)
    {
        if (!Robots.Contains(robot))
            Robots.Add(robot);
        Quay.TrustSubject(robot, ControlPlane.Issuer, Subject(ns, serviceAccount));
    }

    public static string Subject(string ns, string serviceAccount) => $"system:serviceaccount:{ns}:{serviceAccount}";

    /// <summary>Successful exchanges Quay answered for the key (robot, ServiceAccount), oldest first.</summary>
    public IReadOnlyList<ExchangeRecord> Exchanges(string robot, string ns, string serviceAccount) =>
        Quay.Exchanges.Where(e => e.Robot == robot && e.Subject == Subject(ns, serviceAccount)).ToList();

    /// <summary>Starts a group of <paramref name="replicas"/> processes named <c>&lt;group&gt;-0</c>, <c>-1</c>, ...; stopped when the scenario ends.</summary>
    public async Task<WebhookGroup> StartGroupAsync(GroupSpec spec, int replicas, string server = ControlPlane.Server)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var group = run.NewGroup(spec, server);
        ownGroups.Add(group);
        Watch(group);
        for (var i = 0; i < replicas; i++)
            await group.StartReplicaAsync($"{spec.Name}-{i}");
        Log.Line($"group {spec.Name}: {string.Join(", ", group.Replicas.Select(r => $"{r.Identity} (https {r.Process.HttpsPort}, health {r.Process.HealthPort})"))}, Lease {group.LeaseName}, acting in [{string.Join(", ", spec.Namespaces)}]");
        return group;
    }

    public void Watch(WebhookGroup group)
    {
        if (!Groups.Contains(group))
            Groups.Add(group);
    }

    /// <summary>Disposed when the scenario ends, after the diagnostics.</summary>
    public T Own<T>(T resource) where T : IAsyncDisposable
    {
        ownResources.Add(resource);
        return resource;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var group in ownGroups)
            await group.DisposeAsync();
        foreach (var resource in ownResources)
            await resource.DisposeAsync();
    }
}
