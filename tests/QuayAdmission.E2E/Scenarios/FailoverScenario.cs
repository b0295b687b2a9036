using k8s.Models;
using QuayAdmission.E2E.Harness;

namespace QuayAdmission.E2E.Scenarios;

/// <summary>
/// 2. Two replicas (two processes, each its own identity and ports) on the manifests' Lease
/// quay-admission-refresher: exactly one holds it and runs the refresher. SIGKILL the holder: the other
/// takes the Lease within LeaseDuration + 2 RetryPeriods (the processes' configured values). SIGTERM
/// the next holder: it releases the Lease and a third replica takes it within a few seconds, far sooner
/// than an expiry would allow.
/// </summary>
internal sealed class FailoverScenario : IScenario
{
    public int Number => 2;

    public string Name => "failover";

    public async Task<string> RunAsync(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // No namespace of its own: it only elects; every e2e namespace is excluded from its refresher.
        var group = await context.StartGroupAsync(new GroupSpec("failover", LeaseName: null, Namespaces: []), replicas: 2);
        var leaseDuration = group.Replicas[0].Setting("QuayAdmission__Refresher__LeaseDuration");
        var retryPeriod = group.Replicas[0].Setting("QuayAdmission__Refresher__RetryPeriod");
        var bound = leaseDuration + 2 * retryPeriod;

        var holder = await group.LeaderAsync(context.Api, TimeSpan.FromSeconds(60));
        var lease = (await group.LeaseAsync(context.Api))!;
        Assert.Equal((int)leaseDuration.TotalSeconds, lease.Spec.LeaseDurationSeconds);
        var survivor = group.Running.Single(r => r != holder);
        context.Log.Line($"{holder} holds Lease {group.LeaseName} (transitions {lease.Spec.LeaseTransitions}); SIGKILL to it");

        var killedAt = DateTime.UtcNow;
        await holder.KillAsync();
        var taken = await HeldByAsync(context, group, survivor, within: bound + TimeSpan.FromSeconds(60));
        var failover = ClusterReads.Utc(taken.Spec.AcquireTime) - killedAt;
        context.Measured($"SIGKILL of the holder: {survivor} took the Lease after {Figures.Seconds(failover)} (bound {Figures.Seconds(bound)} = LeaseDuration {Figures.Seconds(leaseDuration)} + 2 x RetryPeriod {Figures.Seconds(retryPeriod)})");
        Assert.True(failover <= bound, $"the Lease changed hands {Figures.Seconds(failover)} after the SIGKILL, more than {Figures.Seconds(bound)}");
        Assert.True(taken.Spec.LeaseTransitions > lease.Spec.LeaseTransitions, "leaseTransitions did not grow");
        Assert.Same(survivor, await group.LeaderAsync(context.Api, TimeSpan.FromSeconds(30)));

        // A replacement joins as a follower; then the holder is stopped as the kubelet stops a Pod.
        var replacement = await group.StartReplicaAsync("failover-2");
        Assert.Same(survivor, await group.LeaderAsync(context.Api, TimeSpan.FromSeconds(30)));
        var terminatedAt = DateTime.UtcNow;
        var exit = survivor.TerminateAsync();
        var handedOver = await HeldByAsync(context, group, replacement, within: 2 * leaseDuration);
        var handover = ClusterReads.Utc(handedOver.Spec.AcquireTime) - terminatedAt;
        Assert.Equal(0, await exit);
        context.Measured($"SIGTERM of the holder: {replacement} took the Lease after {Figures.Seconds(handover)}");
        Assert.Contains(survivor.Lines, line => line.Contains($"{survivor.Identity} released the lease {group.LeaseName}", StringComparison.Ordinal));
        // Without the release the replacement would wait out the Lease: at least LeaseDuration - RetryPeriod.
        Assert.True(handover < leaseDuration / 2, $"the Lease changed hands {Figures.Seconds(handover)} after the SIGTERM: it was not released");
        Assert.Same(replacement, await group.LeaderAsync(context.Api, TimeSpan.FromSeconds(30)));
        return string.Join("; ", context.Figures);
    }

    private static async Task<V1Lease> HeldByAsync(ScenarioContext context, WebhookGroup group, WebhookReplica replica, TimeSpan within) =>
        (await Poll.UntilAsync($"{replica} holds Lease {group.LeaseName}", within, async () =>
        {
            var lease = await group.LeaseAsync(context.Api);
            return (lease?.Spec?.HolderIdentity == replica.Identity && lease.Spec.AcquireTime is not null, lease);
        }, TimeSpan.FromMilliseconds(200)))!;
}
