using k8s;
using k8s.Models;
using QuayAdmission.E2E.Harness;

namespace QuayAdmission.E2E.Scenarios;

/// <summary>
/// 6. The token policy, by what it does rather than how the manifests spell it: the webhook's identity
/// may mint only a registry audience for at most 600 s (the API server's audience, no audience, or 3600 s
/// are denied). And it governs that identity alone: while the policy, its binding or the ConfigMap
/// quay-admission is deleted, re-created or renamed, cluster-admin's <c>kubectl create token</c> and a
/// kubelet-like identity's TokenRequest keep succeeding. Runs last and alone: it takes away what every
/// webhook process's TokenRequests may depend on, then applies the manifests again.
/// </summary>
internal sealed class TokenPolicyScenario : IScenario
{
    public const string ServiceAccount = "app";
    public const string RenamedConfigMap = "quay-admission-renamed";
    private const string Ns = E2ENamespaces.Policy;
    private const string KubeletLikeUser = "e2e-kubelet-like";
    private static readonly TimeSpan EachChangeFor = TimeSpan.FromSeconds(5);

    /// <summary>What the webhook mints: its registry's audience, 600 s.</summary>
    public static readonly string[] AllowedRequest = ["-n", Ns, "create", "token", ServiceAccount, "--audience", E2ESettings.RegistryHost, "--duration", "600s"];

    private static readonly (string What, string[] Request)[] DeniedRequests =
    [
        ("the API server's audience", ["-n", Ns, "create", "token", ServiceAccount, "--audience", ControlPlane.Issuer, "--duration", "600s"]),
        ("no audience (the API server's)", ["-n", Ns, "create", "token", ServiceAccount, "--duration", "600s"]),
        ("3600 s", ["-n", Ns, "create", "token", ServiceAccount, "--audience", E2ESettings.RegistryHost, "--duration", "3600s"]),
    ];

    public int Number => 6;

    public string Name => "token-policy";

    public async Task<string> RunAsync(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Namespaces.Add(Ns);
        var webhook = context.KubectlAs(context.WebhookKubeconfig());
        var allowed = await webhook.SecretAsync(AllowedRequest);
        Assert.True(allowed.ExitCode == 0, $"the webhook identity may not mint {E2ESettings.RegistryHost} for 600 s: {allowed.Stderr.Trim()}");
        foreach (var (what, request) in DeniedRequests)
        {
            var denied = await webhook.SecretAsync(request);
            Assert.True(denied.ExitCode != 0, $"the webhook identity minted a token with {what}");
            Assert.True(denied.Stderr.Contains("ValidatingAdmissionPolicy", StringComparison.Ordinal), $"{what}: denied, but not by a policy: {denied.Stderr.Trim()}");
        }
        context.Measured($"webhook identity: {E2ESettings.RegistryHost}/600 s allowed; {string.Join(", ", DeniedRequests.Select(d => d.What))} denied");

        var kubelet = context.KubectlAs(await KubeletLikeAsync(context));
        var others = new[] { ("cluster-admin", context.Admin), ("kubelet-like", kubelet) };
        var attempts = others.ToDictionary(o => o.Item1, _ => 0);
        var denials = new List<string>();
        try
        {
            foreach (var (change, apply) in Changes(context))
            {
                await apply();
                context.Log.Line($"changed: {change}");
                // Every second for a few: the API server's policy caches follow a change within moments, and a denial in between counts too.
                await Poll.ConsistentlyAsync($"after {change}", EachChangeFor, async () =>
                {
                    foreach (var (who, kubectl) in others)
                    {
                        attempts[who]++;
                        var minted = await kubectl.SecretAsync("-n", Ns, "create", "token", ServiceAccount);
                        if (minted.ExitCode != 0)
                            denials.Add($"{who} after {change}: {minted.Stderr.Trim()}");
                    }
                    return (true, "");
                }, TimeSpan.FromSeconds(1));
            }
        }
        finally
        {
            // Back to the manifests as shipped.
            await context.Admin.MustWithInputAsync(context.Manifests.ApplyYaml, "apply", "-f", "-");
            await context.Admin.RunAsync("-n", E2EManifests.Namespace, "delete", "configmap", RenamedConfigMap, "--ignore-not-found");
        }

        var again = "allowed";
        try
        {
            await Poll.UntilAsync("the webhook identity mints again after the manifests are re-applied", TimeSpan.FromSeconds(20), async () => (await webhook.SecretAsync(AllowedRequest)).ExitCode == 0, TimeSpan.FromSeconds(2));
        }
        catch (TimeoutException)
        {
            // Reported, not asserted: kubernetes/kubernetes#130887 keeps a re-created binding's parameters unfound until the API server restarts.
            again = "still denied 20 s after (kubernetes/kubernetes#130887?)";
        }
        var tally = string.Join(", ", attempts.Select(a => $"{a.Key} {a.Value - denials.Count(d => d.StartsWith(a.Key + " ", StringComparison.Ordinal))}/{a.Value}"));
        context.Measured($"through {Changes(context).Count} changes of the policy, its binding and the ConfigMap: TokenRequests allowed {tally}; webhook identity after re-applying the manifests: {again}");
        Assert.True(denials.Count == 0, $"{denials.Count} TokenRequests of identities the policy does not govern were denied; first: {denials.FirstOrDefault()}");
        return string.Join("; ", context.Figures);
    }

    /// <summary>Deleted, re-created, renamed: each step leaves the cluster as a user's edit would.</summary>
    private static List<(string Change, Func<Task> Apply)> Changes(ScenarioContext context)
    {
        var admin = context.Admin;
        var manifests = context.Manifests;
        var policy = manifests.TokenPolicy;
        const string ns = E2EManifests.Namespace;
        const string configMap = E2EManifests.ConfigMapName;
        var changes = new List<(string, Func<Task>)>
        {
            ("ConfigMap quay-admission deleted", () => admin.MustAsync("-n", ns, "delete", "configmap", configMap)),
            ("ConfigMap quay-admission re-created", () => admin.MustWithInputAsync(manifests.ConfigMapYaml, "apply", "-f", "-")),
            ($"ConfigMap renamed to {RenamedConfigMap}", async () =>
            {
                await admin.MustWithInputAsync(manifests.ConfigMapYamlNamed(RenamedConfigMap), "apply", "-f", "-");
                await admin.MustAsync("-n", ns, "delete", "configmap", configMap);
            }),
            ("ConfigMap renamed back", async () =>
            {
                await admin.MustWithInputAsync(manifests.ConfigMapYaml, "apply", "-f", "-");
                await admin.MustAsync("-n", ns, "delete", "configmap", RenamedConfigMap);
            }),
            ($"policy {policy.Name} deleted", () => admin.MustAsync("delete", "validatingadmissionpolicy", policy.Name)),
            ($"policy {policy.Name} re-created", () => admin.MustWithInputAsync(policy.Yaml, "apply", "-f", "-")),
        };
        if (policy.Bindings.Count > 0)
        {
            var names = string.Join(", ", policy.Bindings.Select(b => b.Name));
            changes.Add(($"binding {names} deleted", () => admin.MustAsync(["delete", "validatingadmissionpolicybinding", .. policy.Bindings.Select(b => b.Name)])));
            changes.Add(($"binding {names} re-created", () => admin.MustWithInputAsync(string.Join("---\n", policy.Bindings.Select(b => b.Yaml)), "apply", "-f", "-")));
        }
        return changes;
    }

    /// <summary>
    /// An identity that requests tokens for Pods' ServiceAccounts as a kubelet does: a client certificate
    /// from the cluster CA, bound to a role that may create serviceaccounts/token and nothing else.
    /// </summary>
    private static async Task<string> KubeletLikeAsync(ScenarioContext context)
    {
        var role = new V1ClusterRole
        {
            ApiVersion = "rbac.authorization.k8s.io/v1",
            Kind = "ClusterRole",
            Metadata = new V1ObjectMeta { Name = KubeletLikeUser, Labels = new Dictionary<string, string> { [E2ELabels.PartOf] = E2ELabels.PartOfValue } },
            Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["serviceaccounts/token"], Verbs = ["create"] }],
        };
        var binding = new V1ClusterRoleBinding
        {
            ApiVersion = "rbac.authorization.k8s.io/v1",
            Kind = "ClusterRoleBinding",
            Metadata = new V1ObjectMeta { Name = KubeletLikeUser, Labels = new Dictionary<string, string> { [E2ELabels.PartOf] = E2ELabels.PartOfValue } },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = KubeletLikeUser },
            Subjects = [new Rbacv1Subject { ApiGroup = "rbac.authorization.k8s.io", Kind = "User", Name = KubeletLikeUser }],
        };
        await context.Admin.MustWithInputAsync(KubernetesJson.Serialize(role), "apply", "-f", "-");
        await context.Admin.MustWithInputAsync(KubernetesJson.Serialize(binding), "apply", "-f", "-");
        var credentials = ClientCertificates.Issue(
            await File.ReadAllTextAsync(context.Cluster.CaFile), await File.ReadAllTextAsync(context.Cluster.CaKeyFile), KubeletLikeUser, ["e2e:kubelet-like"], TimeSpan.FromHours(1));
        var kubeconfig = ClientCertificates.WriteKubeconfig(Path.Combine(context.WorkDir, "kubelet-like.kubeconfig"), ControlPlane.Server, context.Cluster.CaFile, KubeletLikeUser, credentials);
        // Its binding takes effect within moments; from then on a denial is the policy's doing.
        var kubelet = context.KubectlAs(kubeconfig);
        await Poll.UntilAsync($"{KubeletLikeUser} may request tokens", TimeSpan.FromSeconds(20),
            async () => (await kubelet.SecretAsync("-n", Ns, "create", "token", ServiceAccount)).ExitCode == 0, TimeSpan.FromSeconds(1));
        return kubeconfig;
    }
}
