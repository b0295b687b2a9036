namespace QuayAdmission.E2E.Harness;

/// <summary>
/// What a failed scenario leaves for the engineer who reads it: the cluster's view of its namespaces
/// (Pods, Secrets by name and annotation only, Leases, Events), the webhook configurations and policies,
/// the last lines of each webhook process of its groups, the API server's and kubelet's logs, the
/// registry's verdicts and Quay's exchanges for its robots. No token is shown: Secrets are listed by
/// columns, never with their data.
/// </summary>
internal static class Diagnostics
{
    private const string SecretColumns =
        "NAME:.metadata.name,UID:.metadata.uid,RV:.metadata.resourceVersion,TYPE:.type,EXPIRES:.metadata.annotations.quay-admission\\.io/expires-at,CREATED:.metadata.creationTimestamp";

    public static async Task CollectAsync(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var node = context.NodeIfUp;
        var log = context.Log;
        log.Line("---- diagnostics ----");
        await Safely(log, "leases", () => context.Admin.RunAsync("-n", E2ESettings.LeaseNamespace, "get", "leases", "-o",
            "custom-columns=NAME:.metadata.name,HOLDER:.spec.holderIdentity,RENEWED:.spec.renewTime,ACQUIRED:.spec.acquireTime,TRANSITIONS:.spec.leaseTransitions,DURATION:.spec.leaseDurationSeconds"));
        foreach (var ns in context.Namespaces)
        {
            await Safely(log, $"pods in {ns}", () => context.Admin.RunAsync("-n", ns, "get", "pods", "-o", "wide", "--show-labels"));
            await Safely(log, $"pod status in {ns}", () => context.Admin.RunAsync("-n", ns, "get", "pods", "-o",
                "custom-columns=NAME:.metadata.name,UID:.metadata.uid,PULL-SECRETS:.spec.imagePullSecrets[*].name,PHASE:.status.phase,WAITING:.status.containerStatuses[*].state.waiting.reason,RESTARTS:.status.containerStatuses[*].restartCount"));
            await Safely(log, $"secrets in {ns}", () => context.Admin.RunAsync("-n", ns, "get", "secrets", "-o", "custom-columns=" + SecretColumns));
            await Safely(log, $"events in {ns}", () => context.Admin.RunAsync("-n", ns, "get", "events", "--sort-by=.lastTimestamp"));
        }
        await Safely(log, "webhook configurations", () => context.Admin.RunAsync("get", "mutatingwebhookconfigurations", "-o",
            "custom-columns=NAME:.metadata.name,URL:.webhooks[*].clientConfig.url,SELECTOR:.webhooks[*].namespaceSelector.matchExpressions[*].key"));
        await Safely(log, "admission policies", () => context.Admin.RunAsync("get", "validatingadmissionpolicies,validatingadmissionpolicybindings"));
        await Safely(log, "configmaps in quay-admission", () => context.Admin.RunAsync("-n", E2ESettings.LeaseNamespace, "get", "configmaps"));

        foreach (var group in context.Groups)
        {
            foreach (var replica in group.Replicas)
            {
                var state = replica.HasExited ? $"exited with {replica.Process.ExitCode}" : "running";
                log.Block($"webhook {replica.Identity} ({state}), last 60 lines", string.Join('\n', replica.Lines.TakeLast(60)));
            }
        }

        foreach (var robot in context.Robots)
        {
            var exchanges = context.Quay.Exchanges.Where(e => e.Robot == robot).TakeLast(20)
                .Select(e => $"{e.At:HH:mm:ss.f} {e.Subject} -> {e.StatusCode} {e.Error}");
            log.Block($"Quay exchanges for {robot} (last 20)", string.Join('\n', exchanges));
        }

        if (node is not null)
        {
            await Safely(log, "registry requests for the scenario's robots (last 30)", async () =>
            {
                var pulls = (await node.PullsAsync()).Where(p => p.Robot is null || context.Robots.Contains(p.Robot)).TakeLast(30);
                return new Tests.Manifests.ToolResult(0, string.Join('\n', pulls), "");
            });
            log.Block("kubelet log (last 40)", TailOf(node.KubeletLog, 40));
        }
        log.Block("kube-apiserver log (last 40)", TailOf(context.Cluster.ApiServerLog, 40));
        log.Block("kube-controller-manager log (last 15)", TailOf(context.Cluster.ControllerManagerLog, 15));
        log.Line("---- end of diagnostics ----");
    }

    internal static string TailOf(string file, int lines)
    {
        try
        {
            return File.Exists(file) ? ControlPlane.Tail(File.ReadAllText(file), lines) : $"({file} does not exist)";
        }
        catch (IOException e)
        {
            return $"({file}: {e.Message})";
        }
    }

    private static async Task Safely(ScenarioLog log, string heading, Func<Task<Tests.Manifests.ToolResult>> run)
    {
        try
        {
            var result = await run();
            log.Block(heading, result.ExitCode == 0 ? result.Stdout : $"exit {result.ExitCode}: {result.Stderr}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.Line($"{heading}: {e.GetType().Name}: {e.Message}");
        }
    }
}
