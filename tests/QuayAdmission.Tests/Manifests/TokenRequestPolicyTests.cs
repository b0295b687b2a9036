extern alias KubernetesFull;

using System.Text.Json.Nodes;
using KubernetesFull::k8s.Models;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// The ValidatingAdmissionPolicy that binds the webhook's TokenRequests to its registries, run with
/// <see cref="Cel"/> and <see cref="PolicyEvaluation"/> against the shipped ConfigMap as its parameter.
/// make e2e runs the real thing in a real kube-apiserver.
/// </summary>
public class TokenRequestPolicyTests
{
    private const string PolicyName = "quay-admission-token-requests";
    private const string TenantNamespace = "team-a";

    private static string WebhookUser => $"system:serviceaccount:{InstalledManifests.ServiceAccount.Metadata.NamespaceProperty}:{InstalledManifests.ServiceAccount.Metadata.Name}";

    private static V1ValidatingAdmissionPolicy Policy => InstalledManifests.OfType<V1ValidatingAdmissionPolicy>().Single(p => p.Metadata.Name == PolicyName);

    private static V1ValidatingAdmissionPolicyBinding Binding => InstalledManifests.OfType<V1ValidatingAdmissionPolicyBinding>().Single(b => b.Spec.PolicyName == PolicyName);

    [Fact]
    public void It_matches_token_requests_and_fails_closed()
    {
        var rule = Assert.Single(Policy.Spec.MatchConstraints.ResourceRules);

        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["v1"], rule.ApiVersions);
        Assert.Equal(["CREATE"], rule.Operations);
        Assert.Equal(["serviceaccounts/token"], rule.Resources);
        Assert.Equal("Fail", Policy.Spec.FailurePolicy);
        Assert.Equal(("v1", "ConfigMap"), (Policy.Spec.ParamKind.ApiVersion, Policy.Spec.ParamKind.Kind));
        var condition = Assert.Single(Policy.Spec.MatchConditions);
        Assert.Equal($"request.userInfo.username == '{WebhookUser}'", condition.Expression);
    }

    [Fact]
    public void Its_parameter_is_the_webhooks_own_config_map_and_a_missing_one_denies()
    {
        var reference = Binding.Spec.ParamRef;

        Assert.Equal(["Deny"], Binding.Spec.ValidationActions);
        Assert.Equal((InstalledManifests.ConfigMap.Metadata.NamespaceProperty, InstalledManifests.ConfigMap.Metadata.Name), (reference.NamespaceProperty, reference.Name));
        Assert.Equal("Deny", reference.ParameterNotFoundAction);
        Assert.Null(reference.Selector);
        Assert.Null(Binding.Spec.MatchResources);
        Assert.Equal(InstalledManifests.Container.EnvFrom.Single().ConfigMapRef.Name, reference.Name);
    }

    [Fact]
    public void Registries_and_excluded_namespaces_are_set_in_the_config_map_only()
    {
        // The policy sees the ConfigMap, not the Deployment: a registry set in env would be refused.
        Assert.DoesNotContain(InstalledManifests.Container.Env, e => e.Name.StartsWith("QuayAdmission__Registries__", StringComparison.Ordinal));
        Assert.DoesNotContain(InstalledManifests.Container.Env, e => e.Name.StartsWith("QuayAdmission__ExcludedNamespaces__", StringComparison.Ordinal));
        Assert.Null(InstalledManifests.Container.Args);
    }

    [Fact]
    public void The_webhooks_own_request_is_allowed()
    {
        Assert.Equal("quay.io", InstalledManifests.Config("QuayAdmission__Registries__0__Host"));

        Assert.Equal("allowed", Decide(TokenRequest(["quay.io"], 600)).ToString());
        Assert.Equal("allowed", Decide(TokenRequest(["quay.io"], 600), ns: "kube-public").ToString());
    }

    [Theory]
    [InlineData("https://kubernetes.default.svc.cluster.local", "a foreign audience")]
    [InlineData("quay.example.com", "a registry that is not configured")]
    [InlineData("QUAY.IO", "the host in another case: audiences are compared exactly")]
    public void A_foreign_audience_is_refused(string audience, string what)
    {
        var decision = Decide(TokenRequest([audience], 600));

        Assert.False(decision.Allowed, what);
        Assert.Equal("quay-admission may request a token only for one audience of its registries: quay.io", decision.Message);
    }

    [Fact]
    public void Omitted_empty_or_several_audiences_are_refused()
    {
        // Omitted, kube-apiserver would issue a token for its own audience: admission sees none and refuses.
        Assert.False(Decide(TokenRequest(null, 600)).Allowed);
        Assert.False(Decide(TokenRequest([], 600)).Allowed);
        Assert.False(Decide(TokenRequest(["quay.io", "https://kubernetes.default.svc"], 600)).Allowed);
        Assert.False(Decide(TokenRequest(["quay.io", "quay.io"], 600)).Allowed);
    }

    [Theory]
    [InlineData(601L)]
    [InlineData(3600L)] // what kube-apiserver defaults an omitted expirationSeconds to, before admission
    [InlineData(null)]
    public void A_longer_or_unstated_lifetime_is_refused(long? expirationSeconds)
    {
        var decision = Decide(TokenRequest(["quay.io"], expirationSeconds));

        Assert.False(decision.Allowed);
        Assert.Equal("quay-admission may request a token only with expirationSeconds of at most 600", decision.Message);
    }

    [Theory]
    [InlineData("kube-system")]
    [InlineData(InstalledManifests.Namespace)]
    public void Token_requests_in_the_namespaces_it_never_acts_in_are_refused(string ns) =>
        Assert.False(Decide(TokenRequest(["quay.io"], 600), ns: ns).Allowed);

    [Fact]
    public void Other_users_are_not_constrained() =>
        Assert.False(Decide(TokenRequest(null, 3600), username: "system:node:worker-1").Applies);

    [Fact]
    public void Registries_audiences_and_excluded_namespaces_come_from_the_config_map()
    {
        var configMap = ShippedConfigMapWith(new Dictionary<string, string>
        {
            ["QuayAdmission__Registries__1__Host"] = "quay.example.com",
            ["QuayAdmission__Registries__2__Host"] = "registry.example.org:8443",
            ["QuayAdmission__Registries__2__Audience"] = "sts.example.org",
            ["QuayAdmission__Registries__3__Host"] = "empty-audience.example.org",
            ["QuayAdmission__Registries__3__Audience"] = "",
            ["QuayAdmission__ExcludedNamespaces__0"] = "legacy",
        });

        Assert.True(Decide(TokenRequest(["quay.example.com"], 600), configMap).Allowed);
        Assert.True(Decide(TokenRequest(["sts.example.org"], 600), configMap).Allowed);
        Assert.True(Decide(TokenRequest(["empty-audience.example.org"], 600), configMap).Allowed);
        // With an Audience set, the host itself is not an audience the webhook asks for.
        Assert.False(Decide(TokenRequest(["registry.example.org:8443"], 600), configMap).Allowed);
        Assert.False(Decide(TokenRequest(["quay.example.com"], 600), configMap, ns: "legacy").Allowed);
        // A map's keys have no order in CEL: the message lists the audiences in any order.
        var listed = Decide(TokenRequest(["elsewhere"], 600), configMap).Message!.Split(": ")[1].Split(", ");
        Assert.Equal(["empty-audience.example.org", "quay.example.com", "quay.io", "sts.example.org"], listed.Order());
    }

    [Fact]
    public void Without_its_config_map_every_token_request_is_refused_even_other_users()
    {
        // parameterNotFoundAction is resolved before the match conditions: README, "Uninstall", says
        // to delete the binding first (make undeploy does) for this reason.
        Assert.False(Decide(TokenRequest(["quay.io"], 600), configMap: null).Allowed);
        Assert.False(Decide(TokenRequest(null, 3600), configMap: null, username: "system:node:worker-1").Allowed);
    }

    /// <summary>
    /// The one source of truth: the webhook, configured from the ConfigMap's registry keys (as its
    /// envFrom does), requests a token the policy, reading the same keys, admits.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("sts.example.org")]
    public async Task The_token_request_the_webhook_sends_is_allowed(string? audience)
    {
        var quay = await FakeQuay.StartAsync(TimeProvider.System); // the host disposes it
        var data = new Dictionary<string, string> { ["QuayAdmission__Registries__0__Host"] = quay.Host };
        if (audience is not null)
            data["QuayAdmission__Registries__0__Audience"] = audience;
        var configMap = ShippedConfigMapWith(data);
        var settings = configMap.Data
            .Where(entry => entry.Key.StartsWith("QuayAdmission__Registries__", StringComparison.Ordinal))
            .ToDictionary(entry => entry.Key.Replace("__", ":", StringComparison.Ordinal), entry => (string?)entry.Value);
        await using var host = await WebhookHost.StartAsync(settings, quay: quay);
        if (audience is not null)
            quay.ExpectedAudience = audience;
        host.Trust("acme+puller");

        var result = await host.AdmitAsync(Pods.Json(ns: TenantNamespace));

        Assert.True(result.HasPatch, result.Body);
        var sent = Assert.Single(host.Kube.Requests, r => r.Operation == "tokenrequest");
        var tokenRequest = Cel.FromJson(JsonNode.Parse(sent.Body!));
        Assert.Equal("allowed", Decide(tokenRequest, configMap).ToString());
        Assert.True(quay.Exchanges.Single().Succeeded, quay.Exchanges.Single().Error);
    }

    private static PolicyDecision Decide(object? tokenRequest, string ns = TenantNamespace, string? username = null) =>
        Decide(tokenRequest, InstalledManifests.ConfigMap, ns, username);

    private static PolicyDecision Decide(object? tokenRequest, V1ConfigMap? configMap, string ns = TenantNamespace, string? username = null) =>
        PolicyEvaluation.Evaluate(Policy, Binding, configMap is null ? [] : [configMap],
            new PolicyRequest("CREATE", "serviceaccounts", "token", ns, username ?? WebhookUser, tokenRequest));

    /// <summary>A TokenRequest as admission sees it: spec fields left out when null, as the API server leaves them.</summary>
    private static object? TokenRequest(string[]? audiences, long? expirationSeconds)
    {
        var spec = new JsonObject();
        if (audiences is not null)
            spec["audiences"] = new JsonArray(audiences.Select(a => (JsonNode?)a).ToArray());
        if (expirationSeconds is not null)
            spec["expirationSeconds"] = expirationSeconds;
        return Cel.FromJson(new JsonObject
        {
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["kind"] = "TokenRequest",
            ["metadata"] = new JsonObject { ["name"] = "default", ["namespace"] = TenantNamespace },
            ["spec"] = spec,
        });
    }

    private static V1ConfigMap ShippedConfigMapWith(IDictionary<string, string> entries)
    {
        var shipped = InstalledManifests.ConfigMap;
        var data = new Dictionary<string, string>(shipped.Data);
        foreach (var (key, value) in entries)
            data[key] = value;
        return new V1ConfigMap { Metadata = shipped.Metadata, Data = data };
    }
}
