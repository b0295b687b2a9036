using Microsoft.Extensions.Options;
using QuayAdmission.PullSecrets;
using QuayAdmission.Robots;

namespace QuayAdmission.Tests.Robots;

/// <summary>
/// The one function from an annotation to keys under the rules, and the trust boundary built on it:
/// admission, the refresher and a managed Secret's claim all come out of these rows.
/// </summary>
public sealed class RobotKeysTests
{
    private static readonly string[] Hosts = ["quay.example.com", "registry.example.org:5000"];

    private static RobotPolicy Policy(bool restricted)
    {
        var options = new RobotOptions();
        if (restricted)
            options.AllowedRobots.Add(new AllowedRobotsRule { Namespaces = "team-a", Robots = { "acme+team_a*" } });
        return new RobotPolicy(Options.Create(options));
    }

    [Theory]
    [InlineData("acme+team_a", null, false, "quay.example.com/acme+team_a", 0, null)]
    [InlineData("acme+team_a, registry.example.org:5000/acme+team_a_ci,acme+team_a", null, true, "quay.example.com/acme+team_a registry.example.org:5000/acme+team_a_ci", 0, null)]
    [InlineData("acme+other", null, false, "quay.example.com/acme+other", 0, null)]
    [InlineData("acme+other", null, true, "", 403, "robot account acme+other is not allowed in namespace team-a (QuayAdmission:AllowedRobots)")]
    [InlineData("acme+other", "Namespace team-a", true, "", 403, "Namespace team-a: robot account acme+other is not allowed")]
    [InlineData("quay.evil.example/acme+team_a", "ServiceAccount team-a/builder", false, "", 403, "ServiceAccount team-a/builder: robot account \"quay.evil.example/acme+team_a\": registry")]
    [InlineData("not a robot", null, false, "", 400, "robot account \"not a robot\" is not a valid Quay robot name")]
    [InlineData(" , ", null, false, "", 400, "annotation quay-admission.io/robot-account names no robot account")]
    public void Resolves_an_annotation_to_keys_or_a_refusal(string annotation, string? origin, bool restricted, string keys, int code, string? refusal)
    {
        var resolved = RobotKeys.Resolve("team-a", "builder", new RobotAnnotation(annotation, origin), Hosts, Policy(restricted));

        Assert.Equal(keys, string.Join(" ", resolved.Keys.Select(k => $"{k.RegistryHost}/{k.Robot}")));
        Assert.All(resolved.Keys, k => Assert.Equal(("team-a", "builder"), (k.Namespace, k.ServiceAccount)));
        Assert.Equal(code, resolved.Refusal?.Code ?? 0);
        if (refusal is not null)
            Assert.StartsWith(refusal, resolved.Refusal!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_annotation_is_no_keys_and_no_refusal() =>
        Assert.Same(RobotKeys.None, RobotKeys.Resolve("team-a", "builder", null, Hosts, Policy(restricted: true)));

    private static ManagedSecret Claim(string? registry = "quay.example.com", string? robot = "acme+team_a", string? serviceAccount = "builder", string ns = "team-a", string? name = null) =>
        new(ns, name ?? PullSecretKey.NameFor(serviceAccount ?? "", registry ?? "", robot ?? ""), Uid: null, ResourceVersion: "1", CreatedAt: null,
            registry, robot, serviceAccount, ExpiresAt: null, IssuedAt: null);

    public static TheoryData<string, ManagedSecret, string?> Claims => new()
    {
        { "a key admission would produce", Claim(), null },
        { "the registry in other case", Claim(registry: "QUAY.example.com", name: PullSecretKey.NameFor("builder", "quay.example.com", "acme+team_a")), null },
        { "a namespace no API path takes", Claim(ns: "../victim"), "its namespace is not a valid name" },
        { "an annotation missing", Claim(serviceAccount: null), "its annotations do not name a registry, robot account and ServiceAccount" },
        { "a ServiceAccount no API path takes", Claim(serviceAccount: "Builder"), "its service-account annotation is not a valid ServiceAccount name" },
        { "an unconfigured registry", Claim(registry: "quay.evil.example"), "its registry annotation names no configured registry" },
        { "a list of robots", Claim(robot: "acme+team_a,acme+team_a_ci"), "its robot-account annotation is not a robot name" },
        { "a robot with a host of its own", Claim(robot: "registry.example.org:5000/acme+team_a"), "its robot-account annotation is not a robot name" },
        { "a robot with a space the parser would trim", Claim(robot: "acme+team_a "), "its robot-account annotation is not a robot name" },
        { "a robot AllowedRobots refuses", Claim(robot: "acme+other"), "robot account acme+other is not allowed in namespace team-a (QuayAdmission:AllowedRobots)" },
        { "a name another key produces", Claim(name: PullSecretKey.NameFor("default", "quay.example.com", "acme+team_a")), "its name is not the one its annotations produce" },
    };

    [Theory]
    [MemberData(nameof(Claims))]
    public void A_managed_Secret_claims_only_a_key_the_admission_rules_produce(string why, ManagedSecret secret, string? refusal)
    {
        var key = new TenantInput(Policy(restricted: true), Hosts).TryKeyOf(secret, out var refused);

        Assert.True(refusal == refused, $"{why}: {refused}");
        if (refusal is null)
            Assert.Equal(new PullSecretKey("team-a", "builder", "quay.example.com", "acme+team_a"), key);
        else
            Assert.Null(key);
    }
}
