extern alias KubernetesFull;

using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// The ValidatingAdmissionPolicy that narrows the webhook's Secret writes. CEL cannot run here,
/// so these tests pin the expressions' parts; a kind cluster (make e2e) evaluates them.
/// </summary>
public class AdmissionPolicyTests
{
    private static V1ValidatingAdmissionPolicy Policy => InstalledManifests.One<V1ValidatingAdmissionPolicy>();

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
        var binding = InstalledManifests.One<V1ValidatingAdmissionPolicyBinding>();

        Assert.Equal(Policy.Metadata.Name, binding.Spec.PolicyName);
        Assert.Equal(["Deny"], binding.Spec.ValidationActions);
        Assert.Null(binding.Spec.ParamRef);
        Assert.Null(binding.Spec.MatchResources);
    }

    private static string Flatten(string expression) => string.Join(' ', expression.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
}
