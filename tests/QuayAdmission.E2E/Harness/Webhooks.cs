using k8s;
using k8s.Models;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// Webhook processes that play one Deployment: the same configuration, each its own identity (POD_NAME)
/// and ports, one Lease among them, the namespaces they act in (every other e2e namespace excluded, so
/// two groups never work on the same Secret), and optionally their own MutatingWebhookConfiguration.
/// </summary>
/// <param name="LeaseName">Null: the manifests' (the ConfigMap's QuayAdmission__Refresher__LeaseName).</param>
internal sealed record GroupSpec(string Name, string? LeaseName, IReadOnlyList<string> Namespaces)
{
    public IEnumerable<string> ExcludedNamespaces => E2ENamespaces.All.Except(Namespaces);
}

/// <summary>What every webhook process of a run shares: the executable, the ConfigMap, Quay, the serving certificate.</summary>
internal sealed record WebhookBase(
    string Executable,
    IReadOnlyDictionary<string, string> ConfigMapData,
    Uri QuayUrl,
    string QuayCaFile,
    DevCertificates Serving,
    string LogsDir);

internal sealed class WebhookReplica : IAsyncDisposable
{
    private readonly Lock gate = new();
    private readonly List<string> lines = [];
    private readonly string logFile;
    private WebhookProcess? process;
    private int disposed;

    private WebhookReplica(string identity, IReadOnlyDictionary<string, string> environment, string logsDir)
    {
        Identity = identity;
        Environment = environment;
        Directory.CreateDirectory(logsDir);
        logFile = Path.Combine(logsDir, $"webhook-{identity}.log");
    }

    public string Identity { get; }

    /// <summary>What the process was started with (the kubeconfig's path, not its token).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    public WebhookProcess Process => process ?? throw new InvalidOperationException("not started");

    public bool HasExited => process?.ExitCode is not null;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (gate)
                return [.. lines];
        }
    }

    public override string ToString() => Identity;

    public TimeSpan Setting(string key) => TimeSpan.Parse(Environment[key], System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<WebhookReplica> StartAsync(string executable, string identity, IReadOnlyDictionary<string, string> environment, string logsDir)
    {
        var replica = new WebhookReplica(identity, environment, logsDir);
        try
        {
            replica.process = await WebhookProcess.StartAsync(executable, new Dictionary<string, string>(environment), replica.Add);
            return replica;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new InvalidOperationException($"webhook {identity} did not start: {e.Message}\n{string.Join('\n', replica.Lines.TakeLast(30))}", e);
        }
    }

    public async Task<PrometheusText> MetricsAsync()
    {
        using var http = Process.HealthClient(TimeSpan.FromSeconds(5));
        return PrometheusText.Parse(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
    }

    public async Task<bool> IsAliveAsync()
    {
        using var http = Process.HealthClient(TimeSpan.FromSeconds(5));
        try
        {
            return (await http.GetAsync(new Uri("/healthz", UriKind.Relative))).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>The refresher runs here: the leader-only gauge is exported (README.md, "Metrics").</summary>
    public async Task<bool> IsLeadingAsync() => (await MetricsAsync()).Has("quay_admission_work_queue_depth");

    public async Task<double> CounterAsync(string name, params (string Key, string Value)[] labels)
    {
        var metrics = await MetricsAsync();
        return metrics.Has(name, labels) ? metrics.Value(name, labels) : 0;
    }

    public Task KillAsync() => Process.KillAsync();

    public Task<int?> TerminateAsync() => Process.TerminateAsync(TimeSpan.FromSeconds(40));

    /// <summary>SIGTERM and wait; once only (a scenario's group is disposed by the scenario and again at the end of the run).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0 && process is not null)
            await process.DisposeAsync();
    }

    private void Add(string line)
    {
        lock (gate)
        {
            lines.Add(line);
            File.AppendAllText(logFile, line + "\n");
        }
    }
}

internal sealed class WebhookGroup : IAsyncDisposable
{
    private readonly WebhookBase common;
    private readonly string kubeconfig;
    private readonly List<WebhookReplica> replicas = [];

    public WebhookGroup(GroupSpec spec, WebhookBase common, string kubeconfig)
    {
        Spec = spec;
        this.common = common;
        this.kubeconfig = kubeconfig;
    }

    public GroupSpec Spec { get; }

    public string LeaseName => Spec.LeaseName ?? common.ConfigMapData["QuayAdmission__Refresher__LeaseName"];

    public string WebhookConfigurationName => $"quay-admission-e2e-{Spec.Name}";

    public IReadOnlyList<WebhookReplica> Replicas => replicas;

    public IEnumerable<WebhookReplica> Running => replicas.Where(r => !r.HasExited);

    /// <summary>The webhook's environment as its Deployment gives it (the ConfigMap, then the Pod's own values), with this run's timings.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentFor(string identity)
    {
        var environment = new Dictionary<string, string>(common.ConfigMapData)
        {
            ["KUBECONFIG"] = kubeconfig,
            ["POD_NAME"] = identity,
            ["POD_NAMESPACE"] = E2ESettings.LeaseNamespace,
            ["QuayAdmission__Registries__0__Host"] = E2ESettings.RegistryHost,
            ["QuayAdmission__Registries__0__FederationUrl"] = common.QuayUrl.ToString(),
            ["QuayAdmission__Registries__0__CaFile"] = common.QuayCaFile,
            ["QuayAdmission__MinRemaining"] = E2ESettings.Format(E2ESettings.MinRemaining),
            ["QuayAdmission__RefreshFraction"] = E2ESettings.RefreshFraction.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["QuayAdmission__Refresher__Interval"] = E2ESettings.Format(E2ESettings.ResyncInterval),
            ["QuayAdmission__Refresher__BackoffMax"] = E2ESettings.Format(E2ESettings.RefresherBackoffMax),
            ["QuayAdmission__Refresher__LeaseName"] = LeaseName,
            ["QuayAdmission__Refresher__LeaseNamespace"] = E2ESettings.LeaseNamespace,
            ["QuayAdmission__Refresher__LeaseDuration"] = E2ESettings.Format(E2ESettings.LeaseDuration),
            ["QuayAdmission__Refresher__RenewDeadline"] = E2ESettings.Format(E2ESettings.RenewDeadline),
            ["QuayAdmission__Refresher__RetryPeriod"] = E2ESettings.Format(E2ESettings.RetryPeriod),
        }.WithServing(common.Serving).WithReadableLogs();
        // The diagnostics print these logs beside the API server's: each line with its time.
        environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        var excluded = Spec.ExcludedNamespaces.ToList();
        for (var i = 0; i < excluded.Count; i++)
            environment[$"QuayAdmission__ExcludedNamespaces__{i}"] = excluded[i];
        return environment;
    }

    public async Task<WebhookReplica> StartReplicaAsync(string identity)
    {
        var replica = await WebhookReplica.StartAsync(common.Executable, identity, EnvironmentFor(identity), common.LogsDir);
        replicas.Add(replica);
        return replica;
    }

    /// <summary>Registers the group's MutatingWebhookConfiguration (URL form) pointing at <paramref name="replica"/>.</summary>
    public async Task RegisterWebhookAsync(E2EManifests manifests, Kubectl admin, WebhookReplica replica)
    {
        ArgumentNullException.ThrowIfNull(manifests);
        ArgumentNullException.ThrowIfNull(admin);
        var configuration = manifests.WebhookConfiguration(WebhookConfigurationName, Spec.Name, replica.Process.HttpsPort, common.Serving.Ca.ExportCertificatePem());
        await admin.MustWithInputAsync(KubernetesJson.Serialize(configuration), "apply", "-f", "-");
    }

    public async Task<V1Lease?> LeaseAsync(IKubernetes api) => await api.LeaseOrNullAsync(E2ESettings.LeaseNamespace, LeaseName);

    /// <summary>Waits until one running replica holds the Lease and is the only one running the refresher; returns it.</summary>
    public async Task<WebhookReplica> LeaderAsync(IKubernetes api, TimeSpan within)
    {
        var leader = await Poll.UntilAsync($"one replica of group {Spec.Name} holds Lease {LeaseName} and alone runs the refresher", within, async () =>
        {
            var holder = (await LeaseAsync(api))?.Spec?.HolderIdentity;
            var leading = new List<WebhookReplica>();
            foreach (var replica in Running)
            {
                if (await replica.IsLeadingAsync())
                    leading.Add(replica);
            }
            var done = leading.Count == 1 && leading[0].Identity == holder;
            return (done, new Observed<WebhookReplica?>(done ? leading[0] : null, $"holder {holder ?? "(none)"}, refresher running on [{string.Join(", ", leading)}]"));
        }, TimeSpan.FromMilliseconds(500));
        return leader.Value!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var replica in replicas)
            await replica.DisposeAsync();
    }
}
