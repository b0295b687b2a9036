using k8s.Models;
using QuayAdmission.E2E.Harness;

namespace QuayAdmission.E2E.Scenarios;

/// <summary>
/// 1. The webhook configuration in URL form, with the manifest's rules, in front of the real API server:
/// Pods created with kubectl come back patched (the deterministic Secret name appended to
/// imagePullSecrets, the injected label), the Secret holds a token Quay issued, two Pods of one key cost
/// one exchange, and a server-side dry run gets the same patch while nothing is written or minted.
/// </summary>
internal sealed class AdmissionScenario : IScenario
{
    private const string Ns = E2ENamespaces.Admission;
    private const string Robot = "acme+puller";
    private const string ServiceAccount = "builder";
    private const string DryRunServiceAccount = "dry-run";

    public int Number => 1;

    public string Name => "admission";

    public async Task<string> RunAsync(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Watch(context.Main);
        await context.CreateNamespaceAsync(Ns, context.Main.Spec.Name, ServiceAccount, DryRunServiceAccount);
        context.Trust(Robot, Ns, ServiceAccount);
        context.Trust(Robot, Ns, DryRunServiceAccount);
        var secretName = SecretNames.For(E2ESettings.RegistryHost, Robot, ServiceAccount);

        var first = await context.CreatePodAsync(E2EPods.Json(Ns, "web-0", ServiceAccount, Robot));
        // A Pod that already lists a Secret keeps it first: the patch only appends.
        var second = await context.CreatePodAsync(E2EPods.Json(Ns, "web-1", ServiceAccount, Robot, pullSecrets: ["team-registry"]));
        AssertPatched(first, [secretName]);
        AssertPatched(second, ["team-registry", secretName]);

        var secret = await context.SecretWithTokenAsync(Ns, secretName, TimeSpan.FromSeconds(60));
        Assert.Equal("kubernetes.io/dockerconfigjson", secret.Type);
        Assert.Equal("quay-admission", secret.ManagedBy);
        Assert.Equal(Robot, secret.Username);
        var exchanges = context.Exchanges(Robot, Ns, ServiceAccount).Where(e => e.Succeeded).ToList();
        Assert.True(exchanges.Count == 1, $"two Pods of one key should cost one Quay exchange; Quay answered {exchanges.Count}");
        Assert.Equal(exchanges[0].IssuedToken, secret.Token);
        context.Measured($"2 Pods patched (imagePullSecrets appended, label), {exchanges.Count} exchange");

        // A server-side dry run: the same patch, and no TokenRequest, no Quay call, no Secret.
        var dryName = SecretNames.For(E2ESettings.RegistryHost, Robot, DryRunServiceAccount);
        var dry = await context.CreatePodAsync(E2EPods.Json(Ns, "dry", DryRunServiceAccount, Robot), "--dry-run=server");
        AssertPatched(dry, [dryName]);
        Assert.Null(await context.Api.PodOrNullAsync(Ns, "dry"));
        // Admission answered before kubectl returned: anything it wrote would be there now; the window covers a late write.
        await Poll.ConsistentlyAsync("a server-side dry run writes and mints nothing", TimeSpan.FromSeconds(10), async () =>
        {
            var written = await context.Api.SecretOrNullAsync(Ns, dryName);
            var minted = context.Exchanges(Robot, Ns, DryRunServiceAccount).Count;
            return (written is null && minted == 0, $"Secret {(written is null ? "absent" : "written")}, {minted} Quay exchanges for {DryRunServiceAccount}");
        }, TimeSpan.FromSeconds(1));
        context.Measured("dry run patched, 0 Secrets, 0 exchanges");
        return string.Join("; ", context.Figures);
    }

    private static void AssertPatched(V1Pod pod, IReadOnlyList<string> pullSecrets)
    {
        Assert.Equal(pullSecrets, pod.Spec.ImagePullSecrets?.Select(s => s.Name).ToList() ?? []);
        Assert.True(pod.Metadata.Labels?.TryGetValue(E2EPods.InjectedLabel, out var injected) == true && injected == "true",
            $"Pod {pod.Metadata.Name} lacks the label {E2EPods.InjectedLabel}: true");
    }
}
