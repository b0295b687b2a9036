extern alias KubernetesFull;

using KubernetesFull::k8s.Models;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

public class NetworkPolicyTests
{
    public const string MetricsLabel = "quay-admission.io/metrics";

    private static V1NetworkPolicy Policy => InstalledManifests.One<V1NetworkPolicy>();

    private static string ComponentDirectory => Path.Combine(RepoPaths.Manifests, "components", "without-network-policy");

    [Fact]
    public void It_selects_the_webhook_pods_and_governs_ingress_only()
    {
        Assert.Equal(InstalledManifests.Deployment.Spec.Template.Metadata.Labels, Policy.Spec.PodSelector.MatchLabels);
        Assert.Equal(["Ingress"], Policy.Spec.PolicyTypes);
        Assert.Null(Policy.Spec.Egress);
    }

    [Fact]
    public void Anyone_may_reach_the_admission_port_and_only_labelled_namespaces_the_health_port()
    {
        var https = ContainerPort("https");
        var health = ContainerPort("http");

        Assert.Equal(2, Policy.Spec.Ingress.Count);
        var admission = Assert.Single(Policy.Spec.Ingress, rule => rule.Ports.Any(p => p.Port.Value == https.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Null(admission.FromProperty); // the API server's addresses cannot be known in general
        var metrics = Assert.Single(Policy.Spec.Ingress, rule => rule.Ports.Any(p => p.Port.Value == health.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var source = Assert.Single(metrics.FromProperty);
        Assert.Equal(new Dictionary<string, string> { [MetricsLabel] = "true" }, source.NamespaceSelector.MatchLabels);
        Assert.Null(source.NamespaceSelector.MatchExpressions);
        Assert.Null(source.PodSelector);
        Assert.Null(source.IpBlock);
        Assert.All(Policy.Spec.Ingress, rule => Assert.Equal("TCP", Assert.Single(rule.Ports).Protocol));
    }

    [Fact]
    public void The_ports_are_the_ones_the_webhook_listens_on()
    {
        Assert.Equal(InstalledManifests.Config("QuayAdmission__Server__HttpsPort"), ContainerPort("https").ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(InstalledManifests.Config("QuayAdmission__Server__HealthPort"), ContainerPort("http").ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [SkippableFact]
    public async Task The_component_leaves_out_the_network_policy_and_nothing_else()
    {
        var component = Yaml.LoadDocuments(File.ReadAllText(Path.Combine(ComponentDirectory, "kustomization.yaml")), "component").Single();
        Assert.Equal(("kustomize.config.k8s.io/v1alpha1", "Component"), (component.GetString("apiVersion"), component.GetString("kind")));
        var patch = Yaml.LoadDocuments(((YamlMappingNode)component.GetList("patches").Single()).GetString("patch")!, "patch").Single();
        Assert.Equal("delete", patch.GetString("$patch"));
        Assert.Equal((Policy.ApiVersion, Policy.Kind, Policy.Metadata.Name, Policy.Metadata.NamespaceProperty),
            (patch.GetString("apiVersion"), patch.GetString("kind"), patch.At("metadata.name"), patch.At("metadata.namespace")));

        var kubectl = ExternalTool.Require("kubectl", "checked that the component's delete patch names the NetworkPolicy, not what an overlay with it renders");

        // An overlay as a user writes one, outside the base (kustomize wants relative paths).
        var overlay = Directory.CreateTempSubdirectory("quay-admission-overlay-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(overlay, "kustomization.yaml"), $"""
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources: [{Path.GetRelativePath(overlay, RepoPaths.Manifests)}]
                components: [{Path.GetRelativePath(overlay, ComponentDirectory)}]
                """);
            var rendered = await ExternalTool.RunAsync(kubectl, ["kustomize", overlay], RepoPaths.Root);

            Assert.True(rendered.ExitCode == 0, rendered.ToString());
            var objects = ManifestLoader.Parse(rendered.Stdout, "kubectl kustomize overlay");
            Assert.Equal(InstalledManifests.All.Select(o => o.Id).Where(id => id != "NetworkPolicy quay-admission/quay-admission").Order(), objects.Select(o => o.Id).Order());
        }
        finally
        {
            Directory.Delete(overlay, recursive: true);
        }
    }

    private static int ContainerPort(string name) => InstalledManifests.Container.Ports.Single(p => p.Name == name).ContainerPort;
}
