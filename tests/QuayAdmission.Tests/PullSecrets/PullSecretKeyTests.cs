using System.Text.RegularExpressions;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Tests.PullSecrets;

public partial class PullSecretKeyTests
{
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [Fact]
    public void Name_follows_the_contract()
    {
        // sha256("quay.io/acme+puller@default") starts with these ten hex digits.
        var expectedHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("quay.io/acme+puller@default"u8))[..10];
        Assert.Equal($"quay-acme-puller-{expectedHash}", PullSecretKey.NameFor("default", "quay.io", "acme+puller"));
    }

    [Fact]
    public void Name_is_deterministic_and_ignores_the_namespace() =>
        Assert.Equal(
            new PullSecretKey("a", "default", "quay.io", "acme+puller").SecretName,
            new PullSecretKey("b", "default", "quay.io", "acme+puller").SecretName);

    [Fact]
    public void Name_differs_per_service_account_robot_and_host()
    {
        string[] names =
        [
            PullSecretKey.NameFor("default", "quay.io", "acme+puller"),
            PullSecretKey.NameFor("builder", "quay.io", "acme+puller"),
            PullSecretKey.NameFor("default", "quay.io", "acme+pusher"),
            PullSecretKey.NameFor("default", "quay.example.com", "acme+puller"),
        ];
        Assert.Equal(names.Length, names.Distinct().Count());
    }

    [Theory]
    [InlineData("acme+puller")]
    [InlineData("my_org.team+ci_bot.v2")]
    [InlineData("aa+bb")]
    public void Name_is_a_dns_label(string robot)
    {
        var name = PullSecretKey.NameFor("default", "quay.io", robot);
        Assert.Matches(DnsLabel(), name);
        Assert.InRange(name.Length, 1, 63);
    }

    [Fact]
    public void Long_robot_names_are_cut_to_63_characters_keeping_the_hash()
    {
        var robot = new string('a', 200) + "+" + new string('b', 255);
        var name = PullSecretKey.NameFor("default", "quay.io", robot);
        Assert.Equal(63, name.Length);
        Assert.Matches(DnsLabel(), name);
        Assert.EndsWith(PullSecretKey.NameFor("default", "quay.io", robot)[^10..], name, StringComparison.Ordinal);
        Assert.NotEqual(name, PullSecretKey.NameFor("default", "quay.io", robot + "c"));
    }
}
