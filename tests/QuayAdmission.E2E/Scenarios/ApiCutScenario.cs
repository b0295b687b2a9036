using System.Diagnostics;
using System.Net;
using QuayAdmission.E2E.Harness;

namespace QuayAdmission.E2E.Scenarios;

/// <summary>
/// 5. Two replicas that reach the API server only through a TCP forwarder; the forwarder resets every
/// connection for 30 s. The processes stay up (alive, never restarted) and recover by themselves, as the
/// API's state shows afterwards: the Lease renewed again by one of them, the Secret deleted during the
/// cut re-created with a token, the other Secret renewed in place.
/// </summary>
internal sealed class ApiCutScenario : IScenario
{
    private const string Ns = E2ENamespaces.Cut;
    private const string Robot = "acme+puller";
    private static readonly TimeSpan CutFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Recovery = TimeSpan.FromMinutes(2);

    public int Number => 5;

    public string Name => "api-cut";

    public async Task<string> RunAsync(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var forwarder = context.Own(TcpForwarder.Start(new IPEndPoint(IPAddress.Loopback, new Uri(ControlPlane.Server).Port)));
        var group = await context.StartGroupAsync(new GroupSpec("cut", "quay-admission-refresher-cut", [Ns]), replicas: 2, server: $"https://127.0.0.1:{forwarder.Port}");
        await group.RegisterWebhookAsync(context.Manifests, context.Admin, group.Replicas[0]);
        await context.CreateNamespaceAsync(Ns, group.Spec.Name, "renewed", "recreated");
        context.Trust(Robot, Ns, "renewed");
        context.Trust(Robot, Ns, "recreated");
        await group.LeaderAsync(context.Api, TimeSpan.FromSeconds(60));
        var renewedName = SecretNames.For(E2ESettings.RegistryHost, Robot, "renewed");
        var recreatedName = SecretNames.For(E2ESettings.RegistryHost, Robot, "recreated");
        foreach (var serviceAccount in new[] { "renewed", "recreated" })
            await context.CreatePodAsync(E2EPods.Json(Ns, $"pod-{serviceAccount}", serviceAccount, Robot));
        var renewedBefore = await context.SecretWithTokenAsync(Ns, renewedName, Recovery);
        var recreatedBefore = await context.SecretWithTokenAsync(Ns, recreatedName, Recovery);
        Assert.True(forwarder.Accepted > 0, "the webhook processes never connected through the forwarder");

        var processes = group.Replicas.Select(r => r.Process).ToList();
        context.Log.Line($"cutting the API for {Figures.Seconds(CutFor)} ({forwarder.Open} connections open)");
        var cutAt = DateTime.UtcNow;
        forwarder.Cut();
        // What a Pod's Secret meets while its refresher cannot see: someone deletes it.
        await context.Admin.MustAsync("-n", Ns, "delete", "secret", recreatedName);
        await Poll.ConsistentlyAsync("every webhook process stays up and answers /healthz during the cut", CutFor, async () =>
        {
            var alive = new List<string>();
            foreach (var replica in group.Replicas)
            {
                if (!replica.HasExited && await replica.IsAliveAsync())
                    alive.Add(replica.Identity);
            }
            return (alive.Count == group.Replicas.Count, $"alive: [{string.Join(", ", alive)}]");
        }, TimeSpan.FromSeconds(2));
        forwarder.Restore();
        var restoredAt = DateTime.UtcNow;
        var since = Stopwatch.StartNew();
        context.Measured($"API cut for {Figures.Seconds(restoredAt - cutAt)} ({forwarder.Refused} connections reset), both processes up and answering throughout");
        Assert.True(forwarder.Refused > 0, "no process tried the API during the cut: the cut proved nothing");

        var lease = await Poll.UntilAsync("the Lease is renewed again by one replica", Recovery, async () =>
        {
            var current = await group.LeaseAsync(context.Api);
            var holder = current?.Spec?.HolderIdentity;
            var renewed = current?.Spec?.RenewTime is { } at && ClusterReads.Utc(at) > restoredAt;
            return (renewed && group.Replicas.Any(r => r.Identity == holder), new Observed<string>(holder ?? "", $"holder {holder}, renewed {current?.Spec?.RenewTime:HH:mm:ss.f}"));
        });
        context.Measured($"Lease renewed by {lease.Value} {Figures.Seconds(since.Elapsed)} after");
        var recreated = await context.SecretWithTokenAsync(Ns, recreatedName, Recovery, notUid: recreatedBefore.Uid);
        context.Measured($"deleted Secret re-created with a token {Figures.Seconds(since.Elapsed)} after");
        var renewed = await Poll.UntilAsync($"Secret {renewedName} renewed in place after the cut", Recovery + E2ESettings.HalfLife, async () =>
        {
            var view = await context.Api.PullSecretAsync(Ns, renewedName);
            var exchangedSince = context.Exchanges(Robot, Ns, "renewed").Any(e => e.Succeeded && e.At.UtcDateTime > restoredAt);
            return (view is not null && view.Uid == renewedBefore.Uid && view.ExpiresAt != renewedBefore.ExpiresAt && exchangedSince, new Observed<string>("", view?.ToString() ?? "absent"));
        }, TimeSpan.FromSeconds(1));
        context.Measured($"the other Secret renewed in place {Figures.Seconds(since.Elapsed)} after");

        Assert.All(group.Replicas, r => Assert.False(r.HasExited, $"{r.Identity} exited ({r.Process.ExitCode})"));
        Assert.Equal(processes, group.Replicas.Select(r => r.Process));
        context.Log.Line($"after the cut: {recreatedName} {recreated}; {renewedName} {renewed.Text}");
        return string.Join("; ", context.Figures);
    }
}
