using QuayAdmission.Robots;

namespace QuayAdmission.Tests.Robots;

public class RobotReferenceParserTests
{
    private static readonly string[] Hosts = ["quay.io", "quay.example.com:8443"];

    private static IReadOnlyList<RobotReference> Parse(string annotation)
    {
        Assert.True(RobotReferenceParser.TryParse(annotation, Hosts, out var references, out var error), error?.Message);
        return references;
    }

    private static ReferenceError Refuse(string annotation)
    {
        Assert.False(RobotReferenceParser.TryParse(annotation, Hosts, out _, out var error));
        return error!;
    }

    [Fact]
    public void One_robot_uses_the_first_registry() =>
        Assert.Equal([new RobotReference("quay.io", "acme+puller")], Parse("acme+puller"));

    [Fact]
    public void Several_entries_with_spaces_and_a_host_prefix() =>
        Assert.Equal(
            [new("quay.io", "acme+puller"), new("quay.example.com:8443", "team_a+ci.bot")],
            Parse(" acme+puller , quay.example.com:8443/team_a+ci.bot,"));

    [Fact]
    public void Host_matches_case_insensitively_and_is_canonicalised() =>
        Assert.Equal("quay.example.com:8443", Parse("QUAY.example.com:8443/acme+puller")[0].RegistryHost);

    [Fact]
    public void Duplicates_collapse() => Assert.Single(Parse("acme+puller,quay.io/acme+puller"));

    [Theory]
    [InlineData("acme")]
    [InlineData("acme+")]
    [InlineData("+puller")]
    [InlineData("Acme+puller")]
    [InlineData("acme+pul ler")]
    [InlineData("acme+a")]
    [InlineData("acme++puller")]
    [InlineData("acme+puller+x")]
    [InlineData("acme+-puller")]
    [InlineData("acme+puller.")]
    [InlineData("quay.io/acme/puller")]
    public void Bad_robot_names_are_refused_naming_the_entry(string entry)
    {
        var error = Refuse($"acme+good,{entry}");
        Assert.Equal(400, error.Code);
        Assert.Contains(entry[..Math.Min(entry.Length, 10)], error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Part_length_is_bounded()
    {
        Assert.Single(Parse($"acme+{new string('a', 255)}"));
        Refuse($"acme+{new string('a', 256)}");
    }

    [Fact]
    public void Unknown_host_is_forbidden_and_lists_the_allowed_ones()
    {
        var error = Refuse("evil.example.org/acme+puller");
        Assert.Equal(403, error.Code);
        Assert.Contains("evil.example.org", error.Message, StringComparison.Ordinal);
        Assert.Contains("quay.io, quay.example.com:8443", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_annotation_is_refused() => Assert.Equal(400, Refuse(" , ").Code);

    [Fact]
    public void Too_many_entries_are_refused_without_parsing_them_all()
    {
        var error = Refuse(string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"acme+r{i:D4}")));
        Assert.Contains("10000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Control_characters_never_reach_the_message()
    {
        var error = Refuse("acme+bad\nname\u0007");
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain('\u0007', error.Message);
    }
}
