using System.Text.Json;
using System.Text.Json.Nodes;
using QuayAdmission.Patching;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Patching;

public class ImagePullSecretsPatchTests
{
    private static JsonNode PatchAndApply(string pod, params string[] names)
    {
        using var json = JsonDocument.Parse(pod);
        var operations = ImagePullSecretsPatch.Build(json.RootElement, names);
        Assert.All(operations, op => Assert.Equal("add", op.Op));
        return JsonPatchApplier.Apply(pod, PatchOperation.Serialize(operations));
    }

    private static string[] PullSecretNames(JsonNode pod) =>
        pod["spec"]!["imagePullSecrets"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToArray();

    [Fact]
    public void Absent_field_is_added_as_an_array()
    {
        var pod = Pods.Json();
        using var json = JsonDocument.Parse(pod);
        var op = Assert.Single(ImagePullSecretsPatch.Build(json.RootElement, ["s1", "s2"]));
        Assert.Equal("/spec/imagePullSecrets", op.Path);
        Assert.Equal(["s1", "s2"], PullSecretNames(PatchAndApply(pod, "s1", "s2")));
    }

    [Fact]
    public void Existing_names_are_kept_and_new_ones_appended()
    {
        var pod = Pods.Json(pullSecrets: ["other", "s1"]);
        using var json = JsonDocument.Parse(pod);
        var op = Assert.Single(ImagePullSecretsPatch.Build(json.RootElement, ["s1", "s2"]));
        Assert.Equal("/spec/imagePullSecrets/-", op.Path);
        Assert.Equal(["other", "s1", "s2"], PullSecretNames(PatchAndApply(pod, "s1", "s2")));
    }

    [Fact]
    public void Nothing_to_add_gives_no_operations()
    {
        using var json = JsonDocument.Parse(Pods.Json(pullSecrets: ["s1"]));
        Assert.Empty(ImagePullSecretsPatch.Build(json.RootElement, ["s1", "s1"]));
    }

    [Fact]
    public void A_second_pass_over_the_patched_pod_adds_nothing()
    {
        var patched = PatchAndApply(Pods.Json(), "s1", "s2").ToJsonString();
        using var json = JsonDocument.Parse(patched);
        Assert.Empty(ImagePullSecretsPatch.Build(json.RootElement, ["s2", "s1"]));
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

    [Theory]
    [InlineData("""{"metadata":{}}""")]
    [InlineData("""{"spec":[]}""")]
    [InlineData("""{"spec":{"imagePullSecrets":"s1"}}""")]
    [InlineData("""{"spec":{"imagePullSecrets":["s1"]}}""")]
    [InlineData("""[]""")]
    public void Malformed_pods_are_reported(string pod)
    {
        using var json = JsonDocument.Parse(pod);
        Assert.Throws<PodShapeException>(() => ImagePullSecretsPatch.Build(json.RootElement, ["s1"]));
    }
}
