using Microsoft.Extensions.Options;
using QuayAdmission.Robots;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Robots;

public class RobotPolicyTests
{
    [Theory]
    [InlineData("team-a-*", "team-a-web", true)]
    [InlineData("team-a-*", "team-b-web", false)]
    [InlineData("*", "anything", true)]
    [InlineData("acme+team_a*", "acme+team_a_ci", true)]
    [InlineData("acme+team_a*", "acme+team_b", false)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    [InlineData("exact", "EXACT", true)]
    [InlineData("", "", true)]
    [InlineData("", "x", false)]
    public void Glob_matches_stars(string pattern, string text, bool expected) => Assert.Equal(expected, Glob.Matches(pattern, text));

    private static RobotPolicy Policy(params AllowedRobotsRule[] rules)
    {
        var options = new RobotOptions();
        options.AllowedRobots.AddRange(rules);
        return new RobotPolicy(Options.Create(options));
    }

    [Fact]
    public void No_rules_allow_everything() =>
        Assert.Null(Policy().Check("anywhere", [new RobotReference("quay.io", "acme+any")]));

    [Fact]
    public void A_rule_grants_matching_robots_to_matching_namespaces()
    {
        var policy = Policy(new AllowedRobotsRule { Namespaces = "team-a-*", Robots = { "acme+team_a*", "quay.example.com/acme+shared" } });
        Assert.Null(policy.Check("team-a-web", [new RobotReference("quay.io", "acme+team_a_ci")]));
        Assert.Null(policy.Check("team-a-web", [new RobotReference("quay.example.com", "acme+shared")]));
        Assert.NotNull(policy.Check("team-a-web", [new RobotReference("quay.io", "acme+shared")]));
        var error = policy.Check("team-b", [new RobotReference("quay.io", "acme+team_a_ci")]);
        Assert.Equal(403, error!.Code);
        Assert.Contains("acme+team_a_ci", error.Message, StringComparison.Ordinal);
        Assert.Contains("team-b", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reference_outside_the_policy_is_denied_at_admission()
    {
        await using var host = await WebhookHost.StartAsync(new Dictionary<string, string?>
        {
            ["QuayAdmission:AllowedRobots:0:Namespaces"] = "team-a*",
            ["QuayAdmission:AllowedRobots:0:Robots:0"] = "acme+team_a*",
        });
        host.Trust("acme+team_a_puller");

        Assert.Empty((await host.AdmitAsync(Pods.Json(robotAccount: "acme+team_a_puller"))).Warnings);

        var denied = await host.AdmitAsync(Pods.Json(robotAccount: "acme+team_b_puller"));
        Assert.False(denied.Allowed);
        Assert.Equal(403, denied.Code);
        Assert.Contains("AllowedRobots", denied.Message, StringComparison.Ordinal);
        Assert.Equal(1, host.Quay.ExchangeCount);
    }
}
