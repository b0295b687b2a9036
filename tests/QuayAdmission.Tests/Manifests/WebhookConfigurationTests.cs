extern alias KubernetesFull;

using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

public class WebhookConfigurationTests
{
    private static V1MutatingWebhookConfiguration Configuration => InstalledManifests.One<V1MutatingWebhookConfiguration>();

    private static V1MutatingWebhook Webhook => Assert.Single(Configuration.Webhooks);

    [Fact]
    public void It_intercepts_pod_creation_only()
    {
        Assert.Equal("quay-admission", Configuration.Metadata.Name);
        Assert.Equal("pods.quay-admission.io", Webhook.Name);
        var rule = Assert.Single(Webhook.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["v1"], rule.ApiVersions);
        Assert.Equal(["CREATE"], rule.Operations);
        Assert.Equal(["pods"], rule.Resources);
        Assert.Equal("Namespaced", rule.Scope);
        Assert.Equal(["v1"], Webhook.AdmissionReviewVersions);
    }

    [Fact]
    public void It_fails_open_has_no_side_effects_on_dry_run_and_is_reinvoked()
    {
        Assert.Equal("NoneOnDryRun", Webhook.SideEffects);
        Assert.Equal("Ignore", Webhook.FailurePolicy);
        Assert.Equal("IfNeeded", Webhook.ReinvocationPolicy);
        Assert.Equal("Equivalent", Webhook.MatchPolicy);
    }

    [Fact]
    public void Its_timeout_leaves_room_for_the_inline_budget()
    {
        var inlineBudget = InstalledManifests.ConfigTimeSpan("QuayAdmission__InlineBudget");
        var timeout = TimeSpan.FromSeconds(Webhook.TimeoutSeconds ?? 10);

        Assert.Equal(5, Webhook.TimeoutSeconds);
        Assert.True(timeout > inlineBudget, $"timeoutSeconds {timeout} must exceed InlineBudget {inlineBudget}");
    }

    [Fact]
    public void It_calls_the_service_on_the_mutate_path()
    {
        var reference = Webhook.ClientConfig.Service;
        var service = InstalledManifests.One<V1Service>();

        Assert.Null(Webhook.ClientConfig.Url);
        Assert.Equal((service.Metadata.NamespaceProperty, service.Metadata.Name), (reference.NamespaceProperty, reference.Name));
        Assert.Equal("/mutate", reference.Path);
        Assert.Equal(443, reference.Port);
        Assert.Contains(service.Spec.Ports, port => port.Port == 443);
    }

    [Fact]
    public void It_skips_system_namespaces_its_own_and_opted_out_ones()
    {
        var expressions = Webhook.NamespaceSelector.MatchExpressions;

        var byName = Assert.Single(expressions, e => e.Key == "kubernetes.io/metadata.name");
        Assert.Equal("NotIn", byName.OperatorProperty);
        Assert.Equal(["kube-system", "kube-node-lease", InstalledManifests.Namespace], byName.Values);
        var optOut = Assert.Single(expressions, e => e.Key == "quay-admission.io/inject");
        Assert.Equal("NotIn", optOut.OperatorProperty);
        Assert.Equal(["disabled"], optOut.Values);
        Assert.Null(Webhook.NamespaceSelector.MatchLabels);
        Assert.Null(Webhook.ObjectSelector);
    }

    [Fact]
    public void It_skips_mirror_pods()
    {
        var condition = Assert.Single(Webhook.MatchConditions);

        Assert.Equal(
            "!has(object.metadata.annotations) || !('kubernetes.io/config.mirror' in object.metadata.annotations)",
            condition.Expression);
    }

    [Fact]
    public void Its_ca_bundle_comes_from_the_serving_certificate()
    {
        var injectFrom = Configuration.Metadata.Annotations["cert-manager.io/inject-ca-from"];
        var parts = injectFrom.Split('/');

        Assert.Equal(2, parts.Length);
        var certificate = InstalledManifests.All.SingleOrDefault(o => o.Kind == "Certificate" && o.Namespace == parts[0] && o.Name == parts[1]);
        Assert.True(certificate is not null, $"inject-ca-from names {injectFrom}, which is not a Certificate in manifests/");
        Assert.Equal("quay-admission/quay-admission-serving", injectFrom);
        // The cainjector fills it; a pasted bundle would go stale at the first CA renewal.
        Assert.Null(Webhook.ClientConfig.CaBundle);
    }
}
