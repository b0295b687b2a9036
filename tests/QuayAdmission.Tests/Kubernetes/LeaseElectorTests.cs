using k8s.Models;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;
using static QuayAdmission.Tests.Kubernetes.Election;

namespace QuayAdmission.Tests.Kubernetes;

public sealed class LeaseElectorTests
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultClientTimeout = new k8s.KubernetesClientConfiguration().HttpClientTimeout;

    [Fact]
    public async Task Exactly_one_of_three_leads()
    {
        await using var election = await Election.StartAsync();
        var candidates = await election.JoinTogetherAsync("a", "b", "c");

        var leader = Assert.Single(candidates, c => c.Working);
        for (var step = 0; step < 5; step++)
        {
            await election.StepAsync();
            Assert.Equal(leader.Identity, election.Holder);
            Assert.Equal(new[] { leader }, candidates.Where(c => c.Working || c.IsLeader));
            Assert.Equal(1, leader.Terms);
        }
    }

    [Fact]
    public async Task The_Lease_is_created_and_renewed_as_client_go_writes_it()
    {
        await using var election = await Election.StartAsync();
        await election.JoinAsync("a");
        var acquired = election.Now;

        var created = election.Lease!;
        Assert.Equal("a", created.HolderIdentity);
        Assert.Equal((int)LeaseDuration.TotalSeconds, created.LeaseDurationSeconds);
        Assert.Equal(acquired, created.AcquireTime);
        Assert.Equal(acquired, created.RenewTime);
        Assert.Equal(0, created.LeaseTransitions);

        await election.StepAsync();
        var renewed = election.Lease!;
        Assert.Equal(("a", acquired, election.Now, 0), (renewed.HolderIdentity, renewed.AcquireTime, renewed.RenewTime, renewed.LeaseTransitions));
    }

    [Fact]
    public async Task On_shutdown_the_leader_releases_and_the_next_takes_over_without_waiting()
    {
        await using var election = await Election.StartAsync();
        var a = await election.JoinAsync("a");
        var b = await election.JoinAsync("b");
        await election.StepAsync();

        await a.StopAsync();
        Assert.False(a.Working);
        var released = election.Lease!;
        Assert.Null(election.Holder);
        Assert.Equal(1, released.LeaseDurationSeconds);
        Assert.Equal(election.Now, released.RenewTime);
        Assert.Equal(election.Now, released.AcquireTime);
        Assert.Equal(0, released.LeaseTransitions);

        await election.StepAsync();
        Assert.True(b.Working);
        var taken = election.Lease!;
        Assert.Equal(("b", election.Now, election.Now, 1, (int)LeaseDuration.TotalSeconds),
            (taken.HolderIdentity, taken.AcquireTime, taken.RenewTime, taken.LeaseTransitions, taken.LeaseDurationSeconds));
    }

    public static TheoryData<string> RenewalFaults =>
        ["update 500", "update 409", "get 500", "API stopped", "update slower than the client timeout"];

    [Theory]
    [MemberData(nameof(RenewalFaults))]
    public async Task A_leader_whose_renewals_fail_stops_at_the_renew_deadline(string fault)
    {
        await using var election = await Election.StartAsync();
        var a = await election.JoinAsync("a");
        Assert.True(a.Working);

        await BreakAsync(election.Kube, fault, a);
        await election.StepToAsync(TimeSpan.FromSeconds(8)); // within the deadline
        Assert.True(a.Working, election.Describe());
        await election.StepAsync(); // 12 s: past it, no renewal since 0 s
        Assert.False(a.Working, election.Describe());
        Assert.False(a.IsLeader);

        await RepairAsync(election.Kube, a);
        await election.StepAsync();
        Assert.True(a.Working);
        Assert.Equal(2, a.Terms);
    }

    [Fact]
    public async Task A_renewal_that_hangs_cannot_keep_a_leader_past_the_deadline()
    {
        // The client's own timeout (100 s by default) is far longer than the renew deadline.
        await using var election = await Election.StartAsync();
        var a = await election.JoinAsync("a");
        election.Kube.SetFault("leases.update", Fault.Hang);

        election.Clock.Advance(RetryPeriod); // 4 s: the renewal hangs
        await election.Kube.WaitForCountAsync("leases.update", 1).WaitAsync(TimeSpan.FromSeconds(10));
        election.Clock.Advance(RetryPeriod); // 8 s
        Assert.True(a.Working);

        election.Clock.Advance(RetryPeriod); // 12 s: no renewal for longer than the renew deadline
        Assert.True(await Eventually.TrueAsync(() => !a.Working), "still leading 12 s after the last renewal");
    }

    [Fact]
    public async Task Another_takes_over_once_the_lease_expired_on_its_own_clock()
    {
        await using var election = await Election.StartAsync();
        var a = await election.JoinAsync("a");
        var b = await election.JoinAsync("b");
        a.Network.Cut = true;

        await election.StepToAsync(RenewDeadline); // 12 s: a gave up at its deadline, b waits for expiry
        Assert.False(a.Working);
        Assert.Equal("a", election.Holder);
        Assert.Equal(0, b.Terms);

        await election.StepAsync(); // 16 s: b last saw the Lease change at 0 s
        Assert.True(b.Working);
        Assert.False(a.Working);
        Assert.Equal(("b", 1), (election.Holder, election.Lease!.LeaseTransitions));
    }

    [Fact]
    public async Task An_unhealthy_leader_releases_so_another_takes_over_before_expiry()
    {
        await using var election = await Election.StartAsync();
        var a = await election.JoinAsync("a");
        var b = await election.JoinAsync("b");

        a.Healthy = false;
        await election.StepAsync(); // a lets go
        Assert.False(a.Working);
        Assert.NotEqual("a", election.Holder);

        await election.StepAsync();
        Assert.True(b.Working);
        Assert.Equal("b", election.Holder);
        Assert.True(election.Clock.Elapsed < LeaseDuration);
    }

    [Fact]
    public async Task A_replica_that_let_go_does_not_compete_during_its_cooldown()
    {
        await using var election = await Election.StartAsync();
        var a = await election.JoinAsync("a");
        a.Healthy = false;
        await election.StepAsync(); // released at 4 s
        var releasedAt = election.Clock.Elapsed;
        a.Healthy = true;

        while (election.Clock.Elapsed + RetryPeriod < releasedAt + Cooldown)
        {
            await election.StepAsync();
            Assert.Null(election.Holder);
            Assert.False(a.Working);
        }
        await election.StepToAsync(releasedAt + Cooldown);
        Assert.Equal("a", election.Holder);
        Assert.Equal(2, a.Terms);
    }

    public static TheoryData<string> EarlyEnds => ["returns", "throws"];

    [Theory]
    [MemberData(nameof(EarlyEnds))]
    public async Task Work_that_ends_early_ends_the_term_but_not_the_elector(string end)
    {
        await using var election = await Election.StartAsync();
        var a = await election.JoinAsync("a", work: _ => end == "returns" ? Task.CompletedTask : throw new InvalidOperationException("work failed"));
        Assert.Equal(1, a.Terms);

        await election.StepAsync();
        Assert.Null(election.Holder);
        Assert.True(a.IsRunning);

        await election.StepToAsync(RetryPeriod + Cooldown);
        Assert.Equal(2, a.Terms);
        Assert.True(a.IsRunning);
    }

    public static TheoryData<string> AcquireFaults =>
        ["get 500", "get 429", "get reset", "get reset mid-body", "create 500", "API stopped"];

    [Theory]
    [MemberData(nameof(AcquireFaults))]
    public async Task The_elector_rides_out_API_faults_and_ends_only_on_its_token(string fault)
    {
        await using var election = await Election.StartAsync();
        await BreakAsync(election.Kube, fault);
        var a = await election.JoinAsync("a");

        for (var step = 0; step < 3; step++)
            await election.StepAsync();
        Assert.True(a.IsRunning);
        Assert.Equal(0, a.Terms);

        await RepairAsync(election.Kube);
        await election.StepAsync();
        Assert.True(a.Working);
        Assert.Equal("a", election.Holder);

        await a.StopAsync();
    }

    [Fact]
    public async Task A_conflict_when_taking_the_Lease_is_not_leadership()
    {
        await using var election = await Election.StartAsync();
        election.Kube.PutLease(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = LeaseName, NamespaceProperty = Namespace },
            Spec = new V1LeaseSpec { LeaseDurationSeconds = 15 },
        });
        election.Kube.SetFault("leases.update", Fault.Status(409));
        var a = await election.JoinAsync("a");

        for (var step = 0; step < 3; step++)
        {
            await election.StepAsync();
            Assert.False(a.IsLeader);
            Assert.Equal(0, a.Terms);
            Assert.Null(election.Holder);
        }

        election.Kube.ClearFaults();
        await election.StepAsync();
        Assert.True(a.Working);
    }

    private static async Task BreakAsync(FakeKubernetesApi kube, string fault, Candidate? leader = null)
    {
        switch (fault)
        {
            case "API stopped":
                await kube.StopAsync();
                return;
            case "update slower than the client timeout":
                // Only now: under a loaded test run, a 1 s timeout could also cut the calls that set the scene.
                leader!.ClientTimeout = ClientTimeout;
                kube.SetFault("leases.update", Fault.Delay(ClientTimeout * 5));
                return;
        }
        var (verb, kind) = (fault.Split(' ', 2)[0], fault.Split(' ', 2)[1]);
        kube.SetFault($"leases.{verb}", kind switch
        {
            "reset" => Fault.Reset,
            "reset mid-body" => Fault.ResetMidBody,
            _ => Fault.Status(int.Parse(kind, System.Globalization.CultureInfo.InvariantCulture)),
        });
    }

    private static async Task RepairAsync(FakeKubernetesApi kube, Candidate? leader = null)
    {
        kube.ClearFaults();
        if (!kube.IsRunning)
            await kube.RestartAsync();
        if (leader is not null)
            leader.ClientTimeout = DefaultClientTimeout;
    }
}
