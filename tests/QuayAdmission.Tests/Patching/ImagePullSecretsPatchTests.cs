using System.Text.Json.Nodes;
using QuayAdmission.Patching;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Patching;

public class ImagePullSecretsPatchTests
{
    private static IReadOnlyList<PatchOperation> Build(string pod, params string[] names) =>
        ImagePullSecretsPatch.Build(Facts.OfPod(pod).PullSecrets, names);

    private static JsonNode PatchAndApply(string pod, params string[] names)
    {
        var operations = Build(pod, names);
        Assert.All(operations, op => Assert.Equal("add", op.Op));
        return JsonPatchApplier.Apply(pod, PatchOperation.Serialize(operations));
    }

    private static string[] PullSecretNames(JsonNode pod) =>
        pod["spec"]!["imagePullSecrets"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToArray();

    [Fact]
    public void Absent_field_is_added_as_an_array()
    {
        var pod = Pods.Json();
        var op = Assert.Single(Build(pod, "s1", "s2"));
        Assert.Equal("/spec/imagePullSecrets", op.Path);
        Assert.Equal(["s1", "s2"], PullSecretNames(PatchAndApply(pod, "s1", "s2")));
    }

    [Fact]
    public void Existing_names_are_kept_and_new_ones_appended()
    {
        var pod = Pods.Json(pullSecrets: ["other", "s1"]);
        var op = Assert.Single(Build(pod, "s1", "s2"));
        Assert.Equal("/spec/imagePullSecrets/-", op.Path);
        Assert.Equal(["other", "s1", "s2"], PullSecretNames(PatchAndApply(pod, "s1", "s2")));
    }

    [Fact]
    public void Nothing_to_add_gives_no_operations() =>
        Assert.Empty(Build(Pods.Json(pullSecrets: ["s1"]), "s1", "s1"));

    [Fact]
    public void A_second_pass_over_the_patched_pod_adds_nothing()
    {
        var patched = PatchAndApply(Pods.Json(), "s1", "s2").ToJsonString();
        Assert.Empty(Build(patched, "s2", "s1"));
    }

    [Fact]
    public void Unknown_fields_are_untouched()
    {
        var original = JsonNode.Parse(Pods.WithUnknownFields)!;
        var patched = PatchAndApply(Pods.WithUnknownFields, "s1");

        Assert.Equal(["s1"], PullSecretNames(patched));
        patched["spec"]!.AsObject().Remove("imagePullSecrets");
        Assert.True(JsonNode.DeepEquals(original, patched), patched.ToJsonString());
    }
}
