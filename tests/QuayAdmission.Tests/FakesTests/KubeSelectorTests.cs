using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>The label selectors the webhook sends, matched as k8s.io/apimachinery's labels.Parse does; the rest of that grammar refused.</summary>
public sealed class KubeSelectorTests
{
    private static readonly Dictionary<string, string> Managed = new() { ["app.kubernetes.io/managed-by"] = "quay-admission", ["tier"] = "front" };
    private static readonly Dictionary<string, string> Other = new() { ["app.kubernetes.io/managed-by"] = "helm" };
    private static readonly Dictionary<string, string> None = [];

    [Theory]
    [InlineData("", true, true, true)]
    [InlineData("app.kubernetes.io/managed-by=quay-admission", true, false, false)]
    [InlineData("app.kubernetes.io/managed-by==quay-admission", true, false, false)]
    [InlineData("app.kubernetes.io/managed-by=quay-admission,tier=front", true, false, false)]
    [InlineData("app.kubernetes.io/managed-by=quay-admission,tier=back", false, false, false)]
    [InlineData(" tier = front ", true, false, false)]
    [InlineData("tier=", false, false, false)] // an empty value: only a label whose value is empty, never a missing one
    public void Equality_selectors_match_as_the_API_does(string selector, bool managed, bool other, bool none)
    {
        Assert.True(LabelSelector.TryParse(selector, out var parsed, out var error), error);

        Assert.Equal([managed, other, none], [parsed.Matches(Managed), parsed.Matches(Other), parsed.Matches(None)]);
    }

    [Theory]
    [InlineData("tier!=front")]
    [InlineData("tier in (front)")]
    [InlineData("tier notin (front)")]
    [InlineData("tier")]
    [InlineData("!tier")]
    [InlineData("replicas>2")]
    [InlineData("=front")]
    [InlineData("tier=a b")]
    [InlineData("tier===front")]
    public void What_the_stand_in_does_not_serve_is_refused_with_a_reason(string selector)
    {
        Assert.False(LabelSelector.TryParse(selector, out _, out var error));
        Assert.Contains("equality selectors", error, StringComparison.Ordinal);
    }
}
