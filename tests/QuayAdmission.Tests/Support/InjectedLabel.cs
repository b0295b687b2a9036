using System.Text.Json.Nodes;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Tests.Support;

/// <summary>The label the patch adds to every injected Pod, checked and then taken off, so the rest can be compared with what was sent.</summary>
public static class InjectedLabel
{
    /// <summary>Asserts <paramref name="patched"/> carries <c>quay-admission.io/injected: "true"</c>, then removes what the patch added for it.</summary>
    public static JsonNode Strip(JsonNode patched, JsonNode original)
    {
        var labels = patched["metadata"]?["labels"]?.AsObject();
        Assert.NotNull(labels);
        Assert.Equal(WellKnown.InjectedValue, labels[WellKnown.InjectedLabel]?.GetValue<string>());
        if (original["metadata"]?["labels"]?[WellKnown.InjectedLabel] is null)
            labels.Remove(WellKnown.InjectedLabel);
        if (original["metadata"]?["labels"] is null && labels.Count == 0)
            patched["metadata"]!.AsObject().Remove("labels");
        if (original["metadata"] is null && patched["metadata"]!.AsObject().Count == 0)
            patched.AsObject().Remove("metadata");
        return patched;
    }
}
