extern alias KubernetesFull;

using System.Text.Json.Nodes;
using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// The ValidatingAdmissionPolicy that narrows the webhook's Secret writes: its parts pinned, and its
/// expressions run by <see cref="PolicyEvaluation"/>; make e2e evaluates the real thing in a real kube-apiserver.
/// </summary>
public class AdmissionPolicyTests
{
    private const string PolicyName = "quay-admission-managed-secrets";

    private static V1ValidatingAdmissionPolicy Policy => InstalledManifests.OfType<V1ValidatingAdmissionPolicy>().Single(p => p.Metadata.Name == PolicyName);

    private static V1ValidatingAdmissionPolicyBinding Binding => InstalledManifests.OfType<V1ValidatingAdmissionPolicyBinding>().Single(b => b.Spec.PolicyName == PolicyName);

    [Fact]
    public void It_covers_create_update_and_delete_of_secrets()
    {
        var rule = Assert.Single(Policy.Spec.MatchConstraints.ResourceRules);

        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["v1"], rule.ApiVersions);
        Assert.Equal(["CREATE", "UPDATE", "DELETE"], rule.Operations);
        Assert.Equal(["secrets"], rule.Resources);
        Assert.Equal("Fail", Policy.Spec.FailurePolicy);
    }

    [Fact]
    public void It_applies_to_the_webhook_service_account_only()
    {
        var sa = InstalledManifests.ServiceAccount.Metadata;
        var condition = Assert.Single(Policy.Spec.MatchConditions);

        Assert.Equal($"request.userInfo.username == 'system:serviceaccount:{sa.NamespaceProperty}:{sa.Name}'", condition.Expression);
    }

    [Fact]
    public void It_allows_only_managed_pull_secrets_before_and_after_a_write()
    {
        var variables = Policy.Spec.Variables.ToDictionary(v => v.Name, v => v.Expression);
        var validations = Policy.Spec.Validations.Select(v => v.Expression).ToList();

        foreach (var (variable, obj) in new[] { ("newIsManaged", "object"), ("oldIsManaged", "oldObject") })
        {
            var expression = Flatten(variables[variable]);
            Assert.Contains($"{obj}.type == 'kubernetes.io/dockerconfigjson'", expression, StringComparison.Ordinal);
            Assert.Contains($"{obj}.metadata.labels['app.kubernetes.io/managed-by'] == 'quay-admission'", expression, StringComparison.Ordinal);
            Assert.Equal(expression.Count(c => c == '('), expression.Count(c => c == ')'));
        }

        // CREATE and UPDATE check the new object; UPDATE and DELETE (object is null) the old one.
        Assert.Equal(
            ["request.operation == 'DELETE' || variables.newIsManaged", "request.operation == 'CREATE' || variables.oldIsManaged"],
            validations);
        Assert.All(Policy.Spec.Validations, v => Assert.False(string.IsNullOrEmpty(v.Message)));
    }

    [Fact]
    public void It_is_bound_and_denies()
    {
        Assert.Equal(PolicyName, Binding.Metadata.Name);
        Assert.Equal(["Deny"], Binding.Spec.ValidationActions);
        Assert.Null(Binding.Spec.ParamRef);
        Assert.Null(Binding.Spec.MatchResources);
    }

    [Theory]
    [InlineData("CREATE", null, "managed", "allowed")]
    [InlineData("CREATE", null, "opaque", "denied")]
    [InlineData("CREATE", null, "unlabelled", "denied")]
    [InlineData("UPDATE", "managed", "managed", "allowed")]
    [InlineData("UPDATE", "unlabelled", "managed", "denied")] // taking over a Secret by labelling it
    [InlineData("UPDATE", "managed", "opaque", "denied")]
    [InlineData("DELETE", "managed", null, "allowed")]
    [InlineData("DELETE", "opaque", null, "denied")]
    public void The_webhook_writes_only_managed_pull_secrets(string operation, string? before, string? after, string expected)
    {
        var sa = InstalledManifests.ServiceAccount.Metadata;
        var request = new PolicyRequest(operation, "secrets", null, "team-a", $"system:serviceaccount:{sa.NamespaceProperty}:{sa.Name}", Secret(after), Secret(before));

        var decision = PolicyEvaluation.Evaluate(Policy, Binding, request);

        Assert.True(decision.Applies);
        Assert.Equal(expected, decision.Allowed ? "allowed" : "denied");
    }

    [Fact]
    public void Other_users_are_not_constrained()
    {
        var request = new PolicyRequest("CREATE", "secrets", null, "team-a", "alice", Secret("opaque"));

        Assert.False(PolicyEvaluation.Evaluate(Policy, Binding, request).Applies);
    }

    private static object? Secret(string? shape) => shape switch
    {
        null => null,
        "managed" => Cel.FromJson(JsonNode.Parse("""{"type":"kubernetes.io/dockerconfigjson","metadata":{"name":"quay-x","labels":{"app.kubernetes.io/managed-by":"quay-admission"}}}""")),
        "unlabelled" => Cel.FromJson(JsonNode.Parse("""{"type":"kubernetes.io/dockerconfigjson","metadata":{"name":"regcred"}}""")),
        "opaque" => Cel.FromJson(JsonNode.Parse("""{"type":"Opaque","metadata":{"name":"db","labels":{"app.kubernetes.io/managed-by":"quay-admission"}}}""")),
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    private static string Flatten(string expression) => string.Join(' ', expression.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
}
