using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using QuayAdmission.Tests.Hardening;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

/// <summary>
/// Reviews anyone who reaches the HTTPS port could forge: for the namespaces the webhook never acts
/// in, and with a namespace that differs between the request and the object. Over the real Kestrel;
/// the stand-ins count every call, and there must be none.
/// </summary>
public sealed class NamespaceRuleTests
{
    private const string Robot = "acme+puller";

    [Theory]
    [InlineData("kube-system")]
    [InlineData("quay-admission")] // the default own namespace, without POD_NAMESPACE
    public async Task A_review_for_a_namespace_it_never_acts_in_is_allowed_unchanged_without_a_call(string ns)
    {
        await using var host = await WebhookHost.StartAsync(kestrel: true);
        host.Trust(Robot, ns: ns);

        var result = await PostAsync(host, Reviews.Create(Pods.Json(ns: ns), uid: "forged-1"));

        AssertAllowedUnchanged(result, "forged-1");
        AssertNoCalls(host);
    }

    [Fact]
    public async Task Its_own_namespace_comes_from_POD_NAMESPACE_and_more_from_ExcludedNamespaces()
    {
        await using var host = await WebhookHost.StartAsync(new Dictionary<string, string?>
        {
            ["POD_NAMESPACE"] = "platform-webhooks",
            ["QuayAdmission:ExcludedNamespaces:0"] = "legacy",
            ["QuayAdmission:ExcludedNamespaces:1"] = "monitoring",
        }, kestrel: true);

        foreach (var ns in new[] { "platform-webhooks", "legacy", "monitoring", "kube-system" })
        {
            host.Trust(Robot, ns: ns);
            AssertAllowedUnchanged(await PostAsync(host, Reviews.Create(Pods.Json(ns: ns), uid: $"forged-{ns}")), $"forged-{ns}");
        }
        AssertNoCalls(host);

        // The same pod anywhere else costs the exchange the rules above saved: the counters do count.
        host.Trust(Robot, ns: "quay-admission");
        var elsewhere = await PostAsync(host, Reviews.Create(Pods.Json(ns: "quay-admission"), uid: "not-excluded"));
        Assert.True(elsewhere.HasPatch, elsewhere.Body);
        Assert.Equal(1, host.Kube.Count("tokenrequest"));
        Assert.Equal(1, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task A_review_for_an_excluded_namespace_named_only_by_the_object_is_allowed_unchanged()
    {
        await using var host = await WebhookHost.StartAsync(kestrel: true);
        var review = JsonNode.Parse(Reviews.Create(Pods.Json(ns: "kube-system"), uid: "no-request-namespace"))!;
        review["request"]!.AsObject().Remove("namespace");

        var result = await PostAsync(host, review.ToJsonString());

        AssertAllowedUnchanged(result, "no-request-namespace");
        AssertNoCalls(host);
    }

    [Theory]
    [InlineData("team-a", "kube-system")]
    [InlineData("kube-system", "team-a")]
    [InlineData("team-a", "team-b")]
    public async Task A_review_whose_object_names_another_namespace_is_denied(string requestNamespace, string objectNamespace)
    {
        await using var host = await WebhookHost.StartAsync(kestrel: true);
        host.Trust(Robot, ns: requestNamespace);
        host.Trust(Robot, ns: objectNamespace);

        var result = await PostAsync(host, Reviews.Create(Pods.Json(ns: objectNamespace), uid: "mismatch", ns: requestNamespace));

        Assert.Equal(HttpStatusCode.OK, result.Status);
        Assert.Equal("mismatch", result.Uid);
        Assert.False(result.Allowed);
        Assert.Equal(400, result.Code);
        Assert.Equal("the object's metadata.namespace differs from the request's namespace; kube-apiserver never sends such a review", result.Message);
        AssertNoCalls(host);
        Assert.Contains(host.Logs.GetSnapshot(), r => r.Id.Id == 1102);
    }

    [Fact]
    public async Task An_object_without_a_namespace_takes_the_requests()
    {
        await using var host = await WebhookHost.StartAsync(kestrel: true);
        host.Trust(Robot);
        var review = JsonNode.Parse(Reviews.Create(Pods.Json(ns: "team-a"), uid: "as-sent"))!;
        review["request"]!["object"]!["metadata"]!.AsObject().Remove("namespace");

        var result = await PostAsync(host, review.ToJsonString());

        Assert.True(result.HasPatch, result.Body);
        Assert.Equal(1, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task An_excluded_namespace_that_is_not_a_name_fails_the_start()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => WebhookHost.StartAsync(
            new Dictionary<string, string?> { ["QuayAdmission:ExcludedNamespaces:0"] = "Not_A_Namespace" }));

        Assert.Contains("QuayAdmission:ExcludedNamespaces:0 'Not_A_Namespace' is not a namespace name", e.ToString(), StringComparison.Ordinal);
    }

    private static async Task<AdmissionResult> PostAsync(WebhookHost host, string review)
    {
        using var client = KestrelLimitTests.HttpsClient(host);
        using var body = new StringContent(review, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri($"https://localhost:{host.HttpsPort}/mutate"), body);
        return await AdmissionResult.ReadAsync(response);
    }

    private static void AssertAllowedUnchanged(AdmissionResult result, string uid)
    {
        Assert.Equal(HttpStatusCode.OK, result.Status);
        Assert.Equal(uid, result.Uid);
        Assert.True(result.Allowed, result.Body);
        Assert.False(result.HasPatch, result.Body);
        Assert.Empty(result.Warnings);
    }

    private static void AssertNoCalls(WebhookHost host)
    {
        Assert.Equal(0, host.Kube.TotalCount);
        Assert.Equal(0, host.Quay.ExchangeCount);
    }
}
