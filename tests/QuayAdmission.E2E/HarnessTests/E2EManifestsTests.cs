using k8s;
using k8s.Models;
using QuayAdmission.E2E.Harness;
using QuayAdmission.Tests.Manifests;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>What the harness applies from manifests/ and the webhook configuration it derives, checked offline with kubectl kustomize.</summary>
public sealed class E2EManifestsTests
{
    [Fact]
    public async Task Applies_rbac_the_policies_and_the_configmap_and_nothing_that_needs_a_node_or_cert_manager()
    {
        var manifests = await E2EManifests.RenderAsync(E2ESettings.RegistryHost);

        Assert.Equal(E2EManifests.AppliedKinds.Order(), manifests.Kinds.Distinct().Order());
        Assert.Equal(2, manifests.Kinds.Count(k => k == "ValidatingAdmissionPolicy"));
        Assert.DoesNotContain("kind: Deployment", manifests.ApplyYaml, StringComparison.Ordinal);
        Assert.DoesNotContain("cert-manager.io", manifests.ApplyYaml, StringComparison.Ordinal);
        // Every object still reads strictly as its Kubernetes type after the cut and the edit.
        var objects = KubernetesYaml.LoadAllFromString(manifests.ApplyYaml, typeMap: null, strict: true);
        Assert.Equal(manifests.Kinds.Count(), objects.Count);
    }

    [Fact]
    public async Task The_configmap_names_the_run_s_registry_and_keeps_the_rest()
    {
        var manifests = await E2EManifests.RenderAsync(E2ESettings.RegistryHost);
        var shipped = KubernetesYaml.LoadAllFromString(RepoPaths.Read("manifests/configmap.yaml")).OfType<V1ConfigMap>().Single().Data;

        Assert.Equal(E2ESettings.RegistryHost, manifests.ConfigMapData[E2EManifests.RegistryHostKey]);
        Assert.Equal(shipped.Keys.Order(), manifests.ConfigMapData.Keys.Order());
        Assert.All(shipped.Where(e => e.Key != E2EManifests.RegistryHostKey), e => Assert.Equal(e.Value, manifests.ConfigMapData[e.Key]));

        var renamed = KubernetesYaml.Deserialize<V1ConfigMap>(manifests.ConfigMapYamlNamed("quay-admission-renamed"), strict: true);
        var original = KubernetesYaml.Deserialize<V1ConfigMap>(manifests.ConfigMapYaml, strict: true);
        Assert.Equal("quay-admission-renamed", renamed.Metadata.Name);
        Assert.Equal(original.Metadata.Labels, renamed.Metadata.Labels);
        Assert.Equal(original.Data, renamed.Data);
    }

    [Fact]
    public async Task The_token_policy_is_found_by_what_it_matches_with_its_bindings()
    {
        var policy = (await E2EManifests.RenderAsync(E2ESettings.RegistryHost)).TokenPolicy;

        var typed = KubernetesYaml.Deserialize<V1ValidatingAdmissionPolicy>(policy.Yaml, strict: true);
        Assert.Contains(typed.Spec.MatchConstraints.ResourceRules, rule => rule.Resources.Contains("serviceaccounts/token"));
        // Its audiences literal names the run's registry, as the ConfigMap does.
        Assert.Equal($"['{E2ESettings.RegistryHost}']", typed.Spec.Variables.Single(v => v.Name == "audiences").Expression);
        Assert.NotEmpty(policy.Bindings);
        Assert.All(policy.Bindings, binding =>
            Assert.Equal(policy.Name, KubernetesYaml.Deserialize<V1ValidatingAdmissionPolicyBinding>(binding.Yaml, strict: true).Spec.PolicyName));
    }

    [Fact]
    public async Task The_webhook_configuration_is_the_manifest_s_in_url_form_for_one_group()
    {
        var manifests = await E2EManifests.RenderAsync(E2ESettings.RegistryHost);
        var shipped = KubernetesYaml.LoadAllFromString(RepoPaths.Read("manifests/mutatingwebhookconfiguration.yaml")).OfType<V1MutatingWebhookConfiguration>().Single();

        var configuration = manifests.WebhookConfiguration("quay-admission-e2e-main", "main", 41234, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

        Assert.Equal("quay-admission-e2e-main", configuration.Metadata.Name);
        Assert.Null(configuration.Metadata.Annotations); // no cert-manager injection here
        var webhook = Assert.Single(configuration.Webhooks);
        var template = Assert.Single(shipped.Webhooks);
        Assert.Equal("https://127.0.0.1:41234/mutate", webhook.ClientConfig.Url);
        Assert.Null(webhook.ClientConfig.Service);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", System.Text.Encoding.ASCII.GetString(webhook.ClientConfig.CaBundle), StringComparison.Ordinal);
        Assert.Equal(KubernetesJson.Serialize(template.Rules), KubernetesJson.Serialize(webhook.Rules));
        Assert.Equal(KubernetesJson.Serialize(template.MatchConditions), KubernetesJson.Serialize(webhook.MatchConditions));
        Assert.Equal((template.SideEffects, template.FailurePolicy, template.TimeoutSeconds, template.ReinvocationPolicy, template.MatchPolicy, template.Name),
            (webhook.SideEffects, webhook.FailurePolicy, webhook.TimeoutSeconds, webhook.ReinvocationPolicy, webhook.MatchPolicy, webhook.Name));
        Assert.Equal(template.NamespaceSelector.MatchExpressions.Count + 1, webhook.NamespaceSelector.MatchExpressions.Count);
        var group = webhook.NamespaceSelector.MatchExpressions[^1];
        Assert.Equal((E2ELabels.Group, "In", "main"), (group.Key, group.OperatorProperty, Assert.Single(group.Values)));
        // What kubectl apply gets reads back strictly as the same kind.
        KubernetesYaml.Deserialize<V1MutatingWebhookConfiguration>(KubernetesJson.Serialize(configuration), strict: true);
    }
}
