using k8s.Models;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Refresh;

namespace QuayAdmission.Tests.Refresh;

public class RefreshPlanTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly RefresherOptions Options = new() { GcAfter = TimeSpan.FromHours(1), UnusedGrace = TimeSpan.FromMinutes(15) };
    private static readonly PullSecretKey Key = new("team-a", "default", "quay.io", "acme+puller");

    /// <summary>A Secret holding a one-hour token issued <paramref name="age"/> ago.</summary>
    private static V1Secret Token(TimeSpan age)
    {
        var issued = Now - age;
        var secret = PullSecretManifest.Build(Key, new QuayToken(ReconcilerWorld.Jwt(issued, issued.AddHours(1)), issued.AddHours(1)));
        secret.Metadata.CreationTimestamp = issued.AddDays(-1).UtcDateTime;
        return secret;
    }

    private static V1Secret Placeholder(TimeSpan age)
    {
        var secret = PullSecretManifest.Build(Key, token: null);
        secret.Metadata.CreationTimestamp = (Now - age).UtcDateTime;
        return secret;
    }

    private static RefreshAction Decide(V1Secret secret, bool inUse) => RefreshPlan.Decide(Managed(secret), Now, inUse, 0.5, Options).Action;

    private static ManagedSecret Managed(V1Secret secret) => ManagedSecret.From(secret) ?? throw new InvalidOperationException("not a managed Secret");

    [Theory]
    [InlineData(10, true, RefreshAction.Keep)]        // young token
    [InlineData(31, true, RefreshAction.Renew)]       // past half its life, in use
    [InlineData(31, false, RefreshAction.Keep)]       // past half, unused and older than the grace
    [InlineData(75, true, RefreshAction.Renew)]       // expired but in use
    [InlineData(90, false, RefreshAction.Keep)]       // expired 30 min ago: not yet garbage
    [InlineData(121, false, RefreshAction.Delete)]    // expired over GcAfter ago, unused
    [InlineData(121, true, RefreshAction.Renew)]      // ... unless a Pod still lists it
    public void Tokens(int ageMinutes, bool inUse, RefreshAction expected) =>
        Assert.Equal(expected, Decide(Token(TimeSpan.FromMinutes(ageMinutes)), inUse));

    [Fact]
    public void A_token_written_within_the_grace_is_renewed_before_a_pod_lists_it()
    {
        var options = new RefresherOptions { UnusedGrace = TimeSpan.FromMinutes(40) };
        Assert.Equal(RefreshAction.Renew, RefreshPlan.Decide(Managed(Token(TimeSpan.FromMinutes(31))), Now, inUse: false, 0.5, options).Action);
    }

    [Theory]
    [InlineData(10, true, 20)]     // young: at half its life
    [InlineData(10, false, 20)]    // young and unused: the same (the grace may still apply then)
    [InlineData(31, false, 89)]    // past half, unused: when it may be collected (an hour past expiry)
    [InlineData(90, false, 30)]    // expired 30 min ago: collected in another 30
    public void A_kept_token_says_when_to_look_again(int ageMinutes, bool inUse, int inMinutes)
    {
        var decision = RefreshPlan.Decide(Managed(Token(TimeSpan.FromMinutes(ageMinutes))), Now, inUse, 0.5, Options);
        Assert.Equal(new RefreshDecision(RefreshAction.Keep, Now.AddMinutes(inMinutes)), decision);
    }

    [Fact]
    public void Other_decisions_name_no_time()
    {
        Assert.Null(RefreshPlan.Decide(Managed(Token(TimeSpan.FromMinutes(31))), Now, inUse: true, 0.5, Options).LookAgainAt);
        Assert.Null(RefreshPlan.Decide(Managed(Placeholder(TimeSpan.FromMinutes(5))), Now, inUse: false, 0.5, Options).LookAgainAt);
    }

    [Theory]
    [InlineData(5, false, RefreshAction.Fill)]
    [InlineData(61, true, RefreshAction.Fill)]
    [InlineData(61, false, RefreshAction.Delete)]
    public void Placeholders(int ageMinutes, bool inUse, RefreshAction expected) =>
        Assert.Equal(expected, Decide(Placeholder(TimeSpan.FromMinutes(ageMinutes)), inUse));
}
