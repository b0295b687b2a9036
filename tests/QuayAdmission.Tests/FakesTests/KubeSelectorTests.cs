using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>The selector grammar and meaning of k8s.io/apimachinery (labels.Parse, fields.ParseSelector).</summary>
public sealed class KubeSelectorTests
{
    private static readonly Dictionary<string, string> Web = new() { ["app"] = "web", ["tier"] = "front", ["replicas"] = "3" };
    private static readonly Dictionary<string, string> Db = new() { ["app"] = "db" };
    private static readonly Dictionary<string, string> None = [];

    [Theory]
    [InlineData("", true, true, true)]
    [InlineData("app=web", true, false, false)]
    [InlineData("app==web", true, false, false)]
    [InlineData("app!=web", false, true, true)] // != also matches objects without the label
    [InlineData("app in (web, db)", true, true, false)]
    [InlineData("app notin (web)", false, true, true)]
    [InlineData("tier", true, false, false)]
    [InlineData("!tier", false, true, true)]
    [InlineData("app=web,tier=front", true, false, false)]
    [InlineData("app in (web,db),!tier", false, true, false)]
    [InlineData("replicas>2", true, false, false)]
    [InlineData("replicas<2", false, false, false)]
    [InlineData(" app = web , tier ", true, false, false)]
    [InlineData("app=", false, false, false)]
    public void Label_selector_matches_as_the_API_does(string selector, bool web, bool db, bool none)
    {
        Assert.True(LabelSelector.TryParse(selector, out var parsed, out var error), error);

        Assert.Equal([web, db, none], [parsed.Matches(Web), parsed.Matches(Db), parsed.Matches(None)]);
    }

    [Theory]
    [InlineData("app in ()")]
    [InlineData("app in (web")]
    [InlineData("app web")]
    [InlineData("=web")]
    [InlineData("app=web,")]
    [InlineData("app=we b")]
    [InlineData("replicas>x")]
    [InlineData("-app=web")]
    public void Bad_label_selectors_are_refused_with_a_reason(string selector)
    {
        Assert.False(LabelSelector.TryParse(selector, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Theory]
    [InlineData("metadata.name=a", true, false)]
    [InlineData("metadata.name==a", true, false)]
    [InlineData("metadata.name!=a", false, true)]
    [InlineData("metadata.name=a,status.phase=Running", true, false)]
    [InlineData("status.phase!=Running,status.phase!=Pending", false, true)]
    [InlineData("spec.nodeName=", false, true)] // unscheduled: the field is empty
    [InlineData(@"metadata.name=a\,b", false, false)]
    public void Field_selector_matches_exact_values(string selector, bool a, bool b)
    {
        string[] supported = ["metadata.name", "status.phase", "spec.nodeName"];
        var podA = new Dictionary<string, string> { ["metadata.name"] = "a", ["status.phase"] = "Running", ["spec.nodeName"] = "node-1" };
        var podB = new Dictionary<string, string> { ["metadata.name"] = "b", ["status.phase"] = "Succeeded", ["spec.nodeName"] = "" };

        Assert.True(FieldSelector.TryParse(selector, supported, out var parsed, out var error), error);

        Assert.Equal([a, b], [parsed.Matches(podA), parsed.Matches(podB)]);
    }

    [Fact]
    public void Field_selector_escapes_commas_in_values()
    {
        Assert.True(FieldSelector.TryParse(@"metadata.name=a\,b", ["metadata.name"], out var parsed, out _));

        Assert.True(parsed.Matches(new Dictionary<string, string> { ["metadata.name"] = "a,b" }));
    }

    [Fact]
    public void An_unsupported_field_is_refused_as_the_API_refuses_it()
    {
        Assert.False(FieldSelector.TryParse("spec.foo=bar", ["metadata.name"], out _, out var error));
        Assert.Equal("field label not supported: spec.foo", error);

        Assert.False(FieldSelector.TryParse("metadata.name", ["metadata.name"], out _, out error));
        Assert.Contains("can't understand", error);
    }
}
