using QuayAdmission.Tests.Manifests;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// Where the shared control plane and node scripts are (<c>shared/realk8s</c>, <c>shared/realnode</c>),
/// where they keep their state, where results go, and whether the binaries they need are there.
/// </summary>
internal sealed record E2ELocations(string? Shared, string Realk8sDir, string RealnodeDir, string ResultsDir)
{
    /// <summary>The shared folder; `make e2e` sets it (SHARED in the Makefile).</summary>
    public const string SharedVariable = "QUAY_ADMISSION_SHARED";

    /// <summary>Where figures, logs and diagnostics go; `make e2e` sets it to artifacts/e2e-results.</summary>
    public const string ResultsVariable = "QUAY_ADMISSION_E2E_RESULTS";

    private static readonly string[] ControlPlaneBinaries = ["kube-apiserver", "kube-controller-manager"];

    public static E2ELocations FromEnvironment() => new(
        FindShared(Environment.GetEnvironmentVariable(SharedVariable), RepoPaths.Root),
        Environment.GetEnvironmentVariable("REALK8S_DIR") is { Length: > 0 } realk8s ? realk8s : "/tmp/realk8s",
        Environment.GetEnvironmentVariable("REALNODE_DIR") is { Length: > 0 } realnode ? realnode : "/tmp/realnode",
        Environment.GetEnvironmentVariable(ResultsVariable) is { Length: > 0 } results ? results : Path.Combine(RepoPaths.Root, "artifacts", "e2e-results"));

    /// <summary>
    /// The configured folder when it holds <c>realk8s/up.sh</c>; without one, the first <c>shared</c> beside
    /// the repository or beside one of its parents (a clone at /work/main has it at ../shared, a worktree at
    /// /work/wt/e2e at ../../shared). Null when there is none.
    /// </summary>
    public static string? FindShared(string? configured, string repositoryRoot)
    {
        if (!string.IsNullOrEmpty(configured))
            return HasScripts(configured) ? Path.GetFullPath(configured) : null;
        for (var dir = Directory.GetParent(Path.GetFullPath(repositoryRoot)); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (HasScripts(candidate))
                return candidate;
        }
        return null;
    }

    public string Realk8sScripts => Path.Combine(Shared ?? throw new InvalidOperationException("no shared folder"), "realk8s");

    public string RealnodeScripts => Path.Combine(Shared ?? throw new InvalidOperationException("no shared folder"), "realnode");

    public string AdminKubeconfig => Path.Combine(Realk8sDir, "kubeconfig");

    public string LogsDir => Path.Combine(ResultsDir, "logs");

    /// <summary>Why the control plane cannot be started here, or null when its binaries are there (packed in the shared folder, or unpacked by an earlier up.sh).</summary>
    public string? ControlPlaneMissing()
    {
        if (Shared is null)
            return $"the shared folder (realk8s/up.sh) was not found beside the repository or its parents; set {SharedVariable} (make e2e SHARED=...)";
        return ControlPlaneBinaries.All(HasBinary) ? null : $"kube-apiserver binaries not found at {Path.Combine(Realk8sScripts, "bin")}; make e2e needs them";
    }

    /// <summary>Why the node cannot be started here, or null when the kubelet is there.</summary>
    public string? KubeletMissing() =>
        Shared is not null && HasBinary("kubelet") ? null : $"the kubelet binary was not found at {Path.Combine(Shared ?? "shared", "realk8s", "bin")}; the node scenario needs it";

    private bool HasBinary(string name) =>
        File.Exists(Path.Combine(Realk8sScripts, "bin", name + ".gz")) || File.Exists(Path.Combine(Realk8sDir, "bin", name));

    private static bool HasScripts(string folder) => File.Exists(Path.Combine(folder, "realk8s", "up.sh"));
}
