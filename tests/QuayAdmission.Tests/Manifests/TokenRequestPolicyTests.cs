extern alias KubernetesFull;

using System.Text.Json.Nodes;
using KubernetesFull::k8s;
using KubernetesFull::k8s.Models;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// The ValidatingAdmissionPolicy that binds the webhook's TokenRequests to its registries, run with
/// <see cref="Cel"/> and <see cref="PolicyEvaluation"/>, and its literals held to the webhook's
/// configuration by <see cref="TokenPolicyAgreement"/>. make e2e runs the real thing in a real kube-apiserver.
/// </summary>
public class TokenRequestPolicyTests
{
    private const string TenantNamespace = "team-a";

    private static string WebhookUser => $"system:serviceaccount:{InstalledManifests.ServiceAccount.Metadata.NamespaceProperty}:{InstalledManifests.ServiceAccount.Metadata.Name}";

    private static V1ValidatingAdmissionPolicy Policy => PolicyIn(InstalledManifests.All);

    private static V1ValidatingAdmissionPolicyBinding Binding => InstalledManifests.OfType<V1ValidatingAdmissionPolicyBinding>().Single(b => b.Spec.PolicyName == TokenPolicyAgreement.PolicyName);

    [Fact]
    public void It_matches_token_requests_and_fails_closed()
    {
        var rule = Assert.Single(Policy.Spec.MatchConstraints.ResourceRules);

        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["v1"], rule.ApiVersions);
        Assert.Equal(["CREATE"], rule.Operations);
        Assert.Equal(["serviceaccounts/token"], rule.Resources);
        Assert.Equal("Fail", Policy.Spec.FailurePolicy);
        var condition = Assert.Single(Policy.Spec.MatchConditions);
        Assert.Equal($"request.userInfo.username == '{WebhookUser}'", condition.Expression);
    }

    [Fact]
    public void It_takes_no_parameter_so_no_other_object_can_make_it_deny()
    {
        // A parameter kube-apiserver cannot find denies every TokenRequest in the cluster, before the
        // match conditions (kubernetes/kubernetes#130887): the policy must name no other object.
        Assert.Null(Policy.Spec.ParamKind);
        Assert.Null(Binding.Spec.ParamRef);
        Assert.Equal(["Deny"], Binding.Spec.ValidationActions);
        Assert.Null(Binding.Spec.MatchResources);
        // The README's overlay recipe replaces /spec/variables/0 after testing its name.
        Assert.Equal(["audiences", "excludedNamespaces"], Policy.Spec.Variables.Select(v => v.Name));
    }

    [SkippableFact]
    public async Task Its_literals_are_the_webhooks_configuration_as_kustomize_renders_it()
    {
        // The files first (KustomizationTests shows the render is the files): what is left checked without kubectl.
        AssertAgree(InstalledManifests.All);

        var rendered = await ManifestLoader.KustomizeAsync(RepoPaths.Manifests, "checked the files read directly, not what `kubectl kustomize manifests/` renders");

        Assert.True(rendered.ExitCode == 0, rendered.ToString());
        AssertAgree(ManifestLoader.Parse(rendered.Stdout, "kubectl kustomize manifests/"));

        static void AssertAgree(IReadOnlyList<ManifestObject> objects)
        {
            TokenPolicyAgreement.AssertAgree(objects);
            Assert.Equal("quay.io", Assert.Single(objects.Select(o => o.Typed).OfType<V1ConfigMap>()).Data["QuayAdmission__Registries__0__Host"]);
        }
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
    public void A_broken_policy_refuses_the_webhook_only()
    {
        // Every variable an error (a reference to a parameter the policy does not have): fails closed, for the webhook alone.
        var broken = Edited(new Dictionary<string, string>(), audiences: "params.data", excludedNamespaces: "params.data");

        Assert.False(Decide(TokenRequest(["quay.io"], 600), broken.Policy).Allowed);
        Assert.False(Decide(TokenRequest(null, 3600), broken.Policy, username: "system:node:worker-1").Applies);
        Assert.False(Decide(TokenRequest(null, 3600), broken.Policy, username: "system:serviceaccount:kube-system:replicaset-controller").Applies);
    }

    [Fact]
    public void More_registries_and_excluded_namespaces_are_repeated_in_the_literals()
    {
        var edited = Edited(
            new Dictionary<string, string>
            {
                ["QuayAdmission__Registries__1__Host"] = "quay.example.com",
                ["QuayAdmission__Registries__2__Host"] = "registry.example.org:8443",
                ["QuayAdmission__Registries__2__Audience"] = "sts.example.org",
                ["QuayAdmission__Registries__3__Host"] = "empty-audience.example.org",
                ["QuayAdmission__Registries__3__Audience"] = "",
                ["QuayAdmission__ExcludedNamespaces__0"] = "legacy",
            },
            audiences: "['quay.io', 'quay.example.com', 'sts.example.org', 'empty-audience.example.org']",
            excludedNamespaces: "['kube-system', 'quay-admission', 'legacy']");

        // The literals above are what the check demands: an Audience when set and not empty, else the Host.
        TokenPolicyAgreement.AssertAgree(edited.Objects);
        Assert.True(Decide(TokenRequest(["quay.example.com"], 600), edited.Policy).Allowed);
        Assert.True(Decide(TokenRequest(["sts.example.org"], 600), edited.Policy).Allowed);
        Assert.True(Decide(TokenRequest(["empty-audience.example.org"], 600), edited.Policy).Allowed);
        Assert.False(Decide(TokenRequest(["registry.example.org:8443"], 600), edited.Policy).Allowed);
        Assert.False(Decide(TokenRequest(["quay.example.com"], 600), edited.Policy, ns: "legacy").Allowed);
        Assert.Equal(
            "quay-admission may request a token only for one audience of its registries: quay.io, quay.example.com, sts.example.org, empty-audience.example.org",
            Decide(TokenRequest(["elsewhere"], 600), edited.Policy).Message);
    }

    [Fact]
    public void A_registry_added_to_the_config_map_alone_is_reported_and_its_tokens_refused()
    {
        var edited = Edited(new Dictionary<string, string>
        {
            ["QuayAdmission__Registries__1__Host"] = "quay.example.com",
            ["QuayAdmission__ExcludedNamespaces__0"] = "legacy",
        });

        var differences = TokenPolicyAgreement.Differences(edited.Objects);

        Assert.Equal(2, differences.Count);
        Assert.Contains("variable audiences is `['quay.io']`, but the webhook requests tokens for each registry's Audience, else its Host: ['quay.example.com', 'quay.io']", differences[0], StringComparison.Ordinal);
        Assert.Contains("variable excludedNamespaces is `['kube-system', 'quay-admission']`", differences[1], StringComparison.Ordinal);
        Assert.Contains("'legacy'", differences[1], StringComparison.Ordinal);
        // Fails closed: the webhook degrades as OnTokenFailure says; no token outside the literal is minted.
        Assert.False(Decide(TokenRequest(["quay.example.com"], 600), edited.Policy).Allowed);
    }

    [Fact]
    public void A_policy_that_is_not_a_literal_is_reported()
    {
        var edited = Edited(new Dictionary<string, string>(), audiences: "params.data.map(k, params.data[k])");

        var difference = Assert.Single(TokenPolicyAgreement.Differences(edited.Objects));
        Assert.Contains("variable audiences `params.data.map(k, params.data[k])` is not a CEL list literal of strings", difference, StringComparison.Ordinal);
    }

    [Fact]
    public void A_match_condition_for_another_identity_is_reported()
    {
        var edited = Edited(new Dictionary<string, string>());
        edited.Policy.Spec.MatchConditions[0].Expression = "request.userInfo.username == 'system:serviceaccount:platform:quay-admission'";

        var difference = Assert.Single(TokenPolicyAgreement.Differences(edited.Objects));
        Assert.Contains($"the webhook runs as {WebhookUser}", difference, StringComparison.Ordinal);
    }

    /// <summary>
    /// The one configuration, end to end: the webhook, configured from the ConfigMap's registry keys
    /// (as its envFrom does), requests a token that the policy admits once its literal agrees.
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
        var edited = Edited(data, audiences: $"['{audience ?? quay.Host}']");
        TokenPolicyAgreement.AssertAgree(edited.Objects);
        var settings = edited.ConfigMap.Data
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
        Assert.Equal("allowed", Decide(tokenRequest, edited.Policy).ToString());
        Assert.True(quay.Exchanges.Single().Succeeded, quay.Exchanges.Single().Error);
    }

    private static PolicyDecision Decide(object? tokenRequest, V1ValidatingAdmissionPolicy? policy = null, string ns = TenantNamespace, string? username = null) =>
        PolicyEvaluation.Evaluate(policy ?? Policy, Binding,
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

    private static V1ValidatingAdmissionPolicy PolicyIn(IEnumerable<ManifestObject> objects) =>
        objects.Select(o => o.Typed).OfType<V1ValidatingAdmissionPolicy>().Single(p => p.Metadata.Name == TokenPolicyAgreement.PolicyName);

    /// <summary>
    /// The shipped objects as an overlay would make them: entries added to the ConfigMap, and the
    /// policy's literals replaced when given. Only the typed objects change (what the checks read).
    /// </summary>
    private static Installation Edited(IDictionary<string, string> entries, string? audiences = null, string? excludedNamespaces = null)
    {
        var shipped = InstalledManifests.ConfigMap;
        var data = new Dictionary<string, string>(shipped.Data);
        foreach (var (key, value) in entries)
            data[key] = value;
        var configMap = new V1ConfigMap { Metadata = shipped.Metadata, Data = data };
        var policy = KubernetesJson.Deserialize<V1ValidatingAdmissionPolicy>(KubernetesJson.Serialize(Policy));
        foreach (var (name, expression) in new[] { ("audiences", audiences), ("excludedNamespaces", excludedNamespaces) })
        {
            if (expression is not null)
                policy.Spec.Variables.Single(v => v.Name == name).Expression = expression;
        }
        return new Installation(InstalledManifests.All
            .Select(o => o.Typed switch
            {
                V1ConfigMap => o with { Typed = configMap },
                V1ValidatingAdmissionPolicy p when p.Metadata.Name == TokenPolicyAgreement.PolicyName => o with { Typed = policy },
                _ => o,
            })
            .ToList());
    }

    private sealed record Installation(IReadOnlyList<ManifestObject> Objects)
    {
        public V1ValidatingAdmissionPolicy Policy => PolicyIn(Objects);

        public V1ConfigMap ConfigMap => Objects.Select(o => o.Typed).OfType<V1ConfigMap>().Single();
    }
}
