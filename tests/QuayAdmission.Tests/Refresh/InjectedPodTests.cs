using k8s.Models;
using QuayAdmission.Kubernetes;
using QuayAdmission.Refresh;

namespace QuayAdmission.Tests.Refresh;

/// <summary>A watched Pod is tenant input: its names reach API paths and TokenRequests only if admission would accept them.</summary>
public sealed class InjectedPodTests
{
    [Fact]
    public void A_pod_is_projected_with_its_service_account_and_our_pull_secrets_only()
    {
        var pod = InjectedPod.From(Pod("team-a", "web-0", serviceAccount: null, pullSecrets: ["quay-acme-puller-0123456789", "other"]));

        Assert.NotNull(pod);
        Assert.Equal(("team-a", "web-0", "default"), (pod.Namespace, pod.Name, pod.ServiceAccount));
        Assert.Equal(["quay-acme-puller-0123456789"], pod.PullSecretNames);
    }

    [Theory]
    [InlineData("team-a", "web-0", "..")]
    [InlineData("team-a", "web-0", "a/../../secrets")]
    [InlineData("team-a", "web-0", "Builder")]
    [InlineData("team-a/..", "web-0", "builder")]
    [InlineData("Team-A", "web-0", "builder")]
    [InlineData("team-a", "../web-0", "builder")]
    [InlineData(null, "web-0", "builder")]
    public void A_pod_whose_names_admission_would_refuse_is_not_projected(string? ns, string? name, string serviceAccount) =>
        Assert.Null(InjectedPod.From(Pod(ns, name, serviceAccount, ["quay-acme-puller-0123456789"])));

    private static PodView Pod(string? ns, string? name, string? serviceAccount, string[] pullSecrets) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = ns, Name = name },
        Spec = new PodViewSpec
        {
            ServiceAccountName = serviceAccount,
            ImagePullSecrets = pullSecrets.Select(n => new V1LocalObjectReference { Name = n }).ToList(),
        },
    };
}
