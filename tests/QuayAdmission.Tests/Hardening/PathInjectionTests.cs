using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Hardening;

/// <summary>
/// Names from the review go into Kubernetes API paths, and KubernetesClient does not escape path
/// parameters: a ServiceAccount "name" with "../" walks to another namespace's ServiceAccount. Anyone
/// who can reach /mutate (reviews are not authenticated) could otherwise have the webhook mint a token
/// for a ServiceAccount they cannot use and write the robot token into a Secret of their own namespace.
/// </summary>
public sealed class PathInjectionTests
{
    [Fact]
    public async Task A_service_account_name_cannot_reach_another_namespace()
    {
        await using var host = await WebhookHost.StartAsync();
        host.Trust("victim+puller", ns: "victim", serviceAccount: "builder");

        var result = await host.AdmitAsync(Pods.Json(robotAccount: "victim+puller", ns: "team-a", serviceAccount: "../../victim/serviceaccounts/builder"))
            .WaitAsync(HardeningHost.NoHang);

        Assert.False(result.Allowed);
        Assert.Equal(400, result.Code);
        Assert.Contains("serviceAccountName", result.Message, StringComparison.Ordinal);
        Assert.All(host.Kube.Requests.Where(r => r.Operation != "jwks" && r.Operation != "discovery"),
            r => Assert.StartsWith("/api/v1/namespaces/team-a/", r.Path, StringComparison.Ordinal));
        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.Empty(host.Kube.Secrets);
    }

    [Fact]
    public async Task A_namespace_must_be_a_name()
    {
        await using var host = await WebhookHost.StartAsync();
        var review = BadInputCorpus.Review();
        review["request"]!["namespace"] = "team-a/serviceaccounts/default/token#";

        var result = await host.PostAsync(review.ToJsonString()).WaitAsync(HardeningHost.NoHang);

        Assert.False(result.Allowed);
        Assert.Equal(400, result.Code);
        Assert.Equal(0, host.Kube.TotalCount);
    }

    /// <summary>.NET's <c>$</c> matches before a final newline: each grammar must end at the end of the string.</summary>
    [Theory]
    [InlineData("namespace", "kube-system\n")]
    [InlineData("namespace", "default\n")]
    [InlineData("serviceAccount", "default\n")]
    [InlineData("robot", "acme\n+x")]
    [InlineData("robot", "acme+x\n")]
    public async Task A_name_with_a_trailing_newline_is_refused_before_any_call(string field, string value)
    {
        await using var host = await WebhookHost.StartAsync();
        host.Trust("acme+x");
        var pod = Pods.Json(robotAccount: field == "robot" ? value : "acme+x", serviceAccount: field == "serviceAccount" ? value : "default");
        var review = BadInputCorpus.Review(System.Text.Json.Nodes.JsonNode.Parse(pod)!.AsObject());
        if (field == "namespace")
            review["request"]!["namespace"] = value;

        var result = await host.PostAsync(review.ToJsonString()).WaitAsync(HardeningHost.NoHang);

        Assert.False(result.Allowed);
        Assert.Equal(400, result.Code);
        // At most the annotations of the Pod's ServiceAccount and Namespace are read; nothing is minted or written.
        Assert.All(host.Kube.Requests, r => Assert.Contains(r.Operation, new[] { "serviceaccounts.get", "namespaces.get" }));
        Assert.All(host.Kube.Requests, r => Assert.StartsWith("/api/v1/namespaces/team-a", r.Path, StringComparison.Ordinal));
        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.Empty(host.Kube.Events);
    }

    [Theory]
    [InlineData("kube-system\n", false)]
    [InlineData("default\n", false)]
    [InlineData("a\nb", false)]
    [InlineData("team-a", true)]
    public void The_name_grammar_ends_at_the_end_of_the_string(string name, bool valid)
    {
        Assert.Equal(valid, QuayAdmission.Kubernetes.KubernetesNames.IsDnsLabel(name));
        Assert.Equal(valid, QuayAdmission.Kubernetes.KubernetesNames.IsDnsSubdomain(name));
    }

    [Theory]
    [InlineData("builder")]
    [InlineData("a.b-c")]
    public async Task Dns_names_still_work(string serviceAccount)
    {
        await using var host = await WebhookHost.StartAsync();
        host.Trust("acme+puller", serviceAccount: serviceAccount);
        var result = await host.AdmitAsync(Pods.Json(serviceAccount: serviceAccount)).WaitAsync(HardeningHost.NoHang);
        Assert.True(result.Allowed && result.HasPatch);
        Assert.Empty(result.Warnings);
        Assert.Equal($"system:serviceaccount:team-a:{serviceAccount}", Assert.Single(host.Quay.Exchanges).Subject);
    }
}
