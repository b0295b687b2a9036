using System.Security.Cryptography.X509Certificates;
using k8s;
using QuayAdmission.Tests.Manifests;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// The real control plane of <c>shared/realk8s</c> (kube-apiserver, kube-controller-manager, etcd on
/// https://127.0.0.1:6443): started with its up.sh once per run (idempotent; prints the admin
/// kubeconfig last), or used as found when it already answers. Stopped at the end only when this run
/// started it.
/// </summary>
internal sealed class ControlPlane : IDisposable
{
    public const string Server = "https://127.0.0.1:6443";

    /// <summary>The ServiceAccount issuer up.sh configures (not reachable by name: Quay is told where its JWKS is).</summary>
    public const string Issuer = "https://kubernetes.default.svc.cluster.local";

    public static readonly Uri Jwks = new($"{Server}/openid/v1/jwks");

    // up.sh and realnode/up.sh install their Debian packages on a fresh machine first.
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(10);

    private readonly E2ELocations locations;

    private ControlPlane(E2ELocations locations, string kubeconfig, bool startedHere)
    {
        this.locations = locations;
        AdminKubeconfig = kubeconfig;
        StartedHere = startedHere;
        Api = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        Ca = X509CertificateLoader.LoadCertificateFromFile(CaFile);
    }

    public string AdminKubeconfig { get; }

    /// <summary>False when the control plane already ran before this run: it is left running.</summary>
    public bool StartedHere { get; }

    /// <summary>The admin's client (group system:masters), for reading and polling; user actions go through kubectl.</summary>
    public Kubernetes Api { get; }

    public string CaFile => Path.Combine(locations.Realk8sDir, "pki", "ca.crt");

    public string CaKeyFile => Path.Combine(locations.Realk8sDir, "pki", "ca.key");

    public X509Certificate2 Ca { get; }

    public string ApiServerLog => Path.Combine(locations.Realk8sDir, "logs", "kube-apiserver.log");

    public string ControllerManagerLog => Path.Combine(locations.Realk8sDir, "logs", "kube-controller-manager.log");

    /// <summary>True when an API server already answers /readyz with the admin kubeconfig of <paramref name="locations"/>.</summary>
    public static async Task<bool> IsRunningAsync(E2ELocations locations)
    {
        ArgumentNullException.ThrowIfNull(locations);
        if (!File.Exists(locations.AdminKubeconfig) || ExternalTool.Find("kubectl") is not { } kubectl)
            return false;
        var ready = await ExternalTool.RunAsync(kubectl, ["--kubeconfig", locations.AdminKubeconfig, "--request-timeout=5s", "get", "--raw", "/readyz"],
            RepoPaths.Root, timeout: TimeSpan.FromSeconds(15));
        return ready.ExitCode == 0 && ready.Stdout.Trim() == "ok";
    }

    /// <summary>Uses a running control plane, or starts one with up.sh. Throws with up.sh's output when it fails.</summary>
    public static async Task<ControlPlane> StartAsync(E2ELocations locations, ScenarioLog log)
    {
        ArgumentNullException.ThrowIfNull(locations);
        ArgumentNullException.ThrowIfNull(log);
        if (await IsRunningAsync(locations))
        {
            log.Line($"control plane already running ({locations.AdminKubeconfig}): using it, leaving it running");
            return new ControlPlane(locations, locations.AdminKubeconfig, startedHere: false);
        }

        var up = await RunScriptAsync(locations, Path.Combine(locations.Realk8sScripts, "up.sh"), [], log);
        var kubeconfig = up.Stdout.Trim().Split('\n').LastOrDefault()?.Trim();
        if (up.ExitCode != 0 || string.IsNullOrEmpty(kubeconfig) || !File.Exists(kubeconfig))
            throw new InvalidOperationException($"realk8s/up.sh failed (exit {up.ExitCode}):\n{Tail(up.Stdout + up.Stderr, 40)}");
        log.Line($"control plane up: {kubeconfig}");
        return new ControlPlane(locations, kubeconfig, startedHere: true);
    }

    /// <summary>down.sh then up.sh: the way out of kubernetes/kubernetes#130887 (a param informer stopped for the process's life).</summary>
    public async Task RestartAsync(ScenarioLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        await StopAsync(log);
        var up = await RunScriptAsync(locations, Path.Combine(locations.Realk8sScripts, "up.sh"), [], log);
        if (up.ExitCode != 0)
            throw new InvalidOperationException($"realk8s/up.sh failed on restart (exit {up.ExitCode}):\n{Tail(up.Stdout + up.Stderr, 40)}");
    }

    public async Task StopAsync(ScenarioLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var down = await RunScriptAsync(locations, Path.Combine(locations.Realk8sScripts, "down.sh"), [], log);
        log.Line($"realk8s/down.sh: exit {down.ExitCode}");
    }

    public void Dispose()
    {
        Api.Dispose();
        Ca.Dispose();
    }

    /// <summary>Runs a shared script with REALK8S_DIR and REALNODE_DIR set; its output goes to the log folder, not the console.</summary>
    internal static async Task<ToolResult> RunScriptAsync(E2ELocations locations, string script, IReadOnlyList<string> arguments, ScenarioLog log)
    {
        log.Line($"$ {script} {string.Join(' ', arguments)}");
        var result = await ExternalTool.RunAsync("/bin/bash", [script, .. arguments], RepoPaths.Root,
            new Dictionary<string, string?> { ["REALK8S_DIR"] = locations.Realk8sDir, ["REALNODE_DIR"] = locations.RealnodeDir },
            ScriptTimeout);
        Directory.CreateDirectory(locations.LogsDir);
        await File.AppendAllTextAsync(Path.Combine(locations.LogsDir, "scripts.log"),
            $"$ {script} {string.Join(' ', arguments)}\n{result.Stdout}{result.Stderr}exit {result.ExitCode}\n\n");
        return result;
    }

    internal static string Tail(string text, int lines)
    {
        var all = text.TrimEnd().Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
