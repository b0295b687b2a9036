using System.Text.Json.Nodes;
using QuayAdmission.Admission;
using QuayAdmission.Patching;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

/// <summary>The one reader of a review's Pod: what it reads, and the reason it gives for a Pod it cannot read.</summary>
public sealed class PodFactsTests
{
    private static ReviewFacts Read(string obj, string? ns = "team-a", string kind = "Pod", string operation = "CREATE", string? subResource = null, string? name = null)
    {
        var request = $$"""
            "uid":"u-1","kind":{"group":"","version":"v1","kind":"{{kind}}"},"operation":"{{operation}}",
            "namespace":{{Quote(ns)}},"name":{{Quote(name)}},
            "subResource":{{Quote(subResource)}},"object":{{obj}}
            """;
        return Facts.Of($$$"""{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{{{request}}}}}""");
    }

    private static string Quote(string? text) => text is null ? "null" : JsonValue.Create(text).ToJsonString();

    [Theory]
    [InlineData("""[]""", "request.object must be the Pod")]
    [InlineData("""{"metadata":[],"spec":{}}""", "metadata must be an object")]
    [InlineData("""{"metadata":{}}""", "the pod has no spec")]
    [InlineData("""{"spec":[]}""", "spec must be an object")]
    [InlineData("""{"spec":{"imagePullSecrets":"s1"}}""", "spec.imagePullSecrets is not an array")]
    [InlineData("""{"spec":{"imagePullSecrets":["s1"]}}""", "spec.imagePullSecrets entries must be objects")]
    [InlineData("""{"spec":{"imagePullSecrets":[{"name":"\uD800"}]}}""", "spec.imagePullSecrets[].name is not valid UTF-8 text")]
    [InlineData("""{"metadata":{"labels":"x"},"spec":{}}""", "metadata.labels must be an object")]
    [InlineData("""{"metadata":{"annotations":{"quay-admission.io/robot-account":7}},"spec":{}}""", "the robot-account annotation must be a string")]
    [InlineData("""{"metadata":{"annotations":{"quay-admission.io/inject":false}},"spec":{}}""", "the inject annotation must be a string")]
    [InlineData("""{"spec":{"serviceAccountName":"../x"}}""", "spec.serviceAccountName is not a valid name")]
    public void A_pod_it_cannot_read_is_reported_with_the_reason(string pod, string reason)
    {
        var facts = Read(pod);
        Assert.Null(facts.Pod);
        Assert.Equal(reason, facts.Unreadable);
    }

    [Theory]
    [InlineData(null, """{"metadata":{"namespace":"../x"},"spec":{}}""", "the namespace is not a valid name")]
    [InlineData(null, """{"spec":{}}""", "the request names no namespace")]
    public void A_namespace_that_cannot_become_an_API_path_is_reported(string? ns, string pod, string reason) =>
        Assert.Equal(reason, Read(pod, ns).Unreadable);

    [Fact]
    public void A_pod_is_read_once_into_everything_the_decision_and_the_patch_need()
    {
        var pod = Read("""
            {"metadata":{"generateName":"web-","annotations":{"quay-admission.io/robot-account":"acme+puller","quay-admission.io/inject":"true"},"labels":{"app":"web"}},
             "spec":{"serviceAccountName":"builder","imagePullSecrets":[{"name":"other"},{}]}}
            """).Pod!;

        Assert.Equal(("team-a", "web-*", "builder", "acme+puller", "true", false), (pod.Namespace, pod.DisplayName, pod.ServiceAccount, pod.RobotAccounts, pod.Inject, pod.IsMirror));
        Assert.True(pod.PullSecrets.Present);
        Assert.Equal(["other"], pod.PullSecrets.Names);
        Assert.Equal(new InjectedLabelState(MetadataPresent: true, LabelsPresent: true, LabelPresent: false), pod.InjectedLabel);
    }

    [Theory]
    [InlineData("""{"spec":{}}""", false, false, false)]
    [InlineData("""{"metadata":null,"spec":{}}""", false, false, false)]
    [InlineData("""{"metadata":{},"spec":{}}""", true, false, false)]
    [InlineData("""{"metadata":{"labels":null},"spec":{}}""", true, false, false)]
    [InlineData("""{"metadata":{"labels":{}},"spec":{}}""", true, true, false)]
    [InlineData("""{"metadata":{"labels":{"quay-admission.io/injected":"no"}},"spec":{}}""", true, true, true)]
    public void The_injected_label_state_is_read_with_the_pod(string pod, bool metadata, bool labels, bool label) =>
        Assert.Equal(new InjectedLabelState(metadata, labels, label), Read(pod).Pod!.InjectedLabel);

    [Fact]
    public void Defaults_a_pod_leaves_out()
    {
        var pod = Read("""{"spec":{"imagePullSecrets":null}}""").Pod!;

        Assert.Equal(("(unnamed)", "default", false), (pod.DisplayName, pod.ServiceAccount, pod.PullSecrets.Present));
        Assert.Null(pod.RobotAccounts);
        Assert.Equal("web-0", Read("""{"metadata":{"name":"other"},"spec":{}}""", name: "web-0").Pod!.DisplayName);
        Assert.True(Read("""{"metadata":{"annotations":{"kubernetes.io/config.mirror":"x"}},"spec":{}}""").Pod!.IsMirror);
    }

    [Theory]
    [InlineData("team-a", """{"metadata":{"namespace":"team-b"},"spec":{}}""", true, "team-a")]
    [InlineData("team-a", """{"metadata":{"namespace":"team-a"},"spec":{}}""", false, "team-a")]
    [InlineData("team-a", """{"metadata":{"namespace":""},"spec":{}}""", false, "team-a")]
    [InlineData("team-a", """{"metadata":{"namespace":"\uD800"},"spec":{}}""", true, "team-a")]
    [InlineData("team-a", """{"metadata":[]}""", false, "team-a")]
    [InlineData("", """{"metadata":{"namespace":"kube-system"},"spec":{}}""", false, "kube-system")]
    [InlineData(null, """{"spec":{}}""", false, null)]
    public void The_namespace_is_the_requests_else_the_objects_and_a_different_one_is_foreign(string? requestNs, string obj, bool foreign, string? ns)
    {
        var facts = Read(obj, requestNs);
        Assert.Equal((foreign, ns), (facts.ForeignNamespace, facts.Namespace));
        if (foreign)
            Assert.Null(facts.Pod); // a forged review's Pod is not read at all
    }

    [Theory]
    [InlineData("Pod", "UPDATE", null)]
    [InlineData("Pod", "CREATE", "status")]
    [InlineData("Deployment", "CREATE", null)]
    public void Anything_but_a_Pod_CREATE_is_not_read_as_a_Pod(string kind, string operation, string? subResource)
    {
        var facts = Read("""{"spec":[]}""", kind: kind, operation: operation, subResource: subResource);
        Assert.Equal((false, null, null), (facts.IsPodCreate, facts.Pod, facts.Unreadable));
    }
}
