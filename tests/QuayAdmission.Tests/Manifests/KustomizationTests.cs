extern alias KubernetesFull;

using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

public class KustomizationTests
{
    private static readonly string[] ClusterScopedKinds =
    [
        "Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    ];

    private static string ComponentsDirectory => Path.Combine(RepoPaths.Manifests, "components");

    [Fact]
    public void Kustomization_lists_every_manifest_file_and_only_those()
    {
        var listed = ManifestLoader.KustomizationResources(RepoPaths.Manifests);
        var files = Directory.EnumerateFiles(RepoPaths.Manifests)
            .Select(Path.GetFileName)
            .Where(name => name != "kustomization.yaml")
            .Order();

        Assert.Equal(files, listed.Order());
        Assert.Equal(listed.Count, listed.Distinct().Count());
        // kustomize refuses an overlay inside its base; components are not overlays, and the base does not list
        // them; the credential provider's node material refers to nothing in the base.
        Assert.Equal(["components", "credential-provider"], Directory.EnumerateDirectories(RepoPaths.Manifests).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_manifests_hold_exactly_the_expected_objects()
    {
        string[] expected =
        [
            "Namespace quay-admission",
            "ServiceAccount quay-admission/quay-admission",
            "ClusterRole quay-admission",
            "ClusterRoleBinding quay-admission",
            "Role quay-admission/quay-admission",
            "RoleBinding quay-admission/quay-admission",
            "ValidatingAdmissionPolicy quay-admission-managed-secrets",
            "ValidatingAdmissionPolicyBinding quay-admission-managed-secrets",
            "ValidatingAdmissionPolicy quay-admission-token-requests",
            "ValidatingAdmissionPolicyBinding quay-admission-token-requests",
            "NetworkPolicy quay-admission/quay-admission",
            "ConfigMap quay-admission/quay-admission",
            "Deployment quay-admission/quay-admission",
            "PodDisruptionBudget quay-admission/quay-admission",
            "Service quay-admission/quay-admission",
            "Issuer quay-admission/quay-admission-selfsigned",
            "Issuer quay-admission/quay-admission-ca",
            "Certificate quay-admission/quay-admission-ca",
            "Certificate quay-admission/quay-admission-serving",
            "MutatingWebhookConfiguration quay-admission",
        ];

        Assert.Equal(expected.Order(), InstalledManifests.All.Select(o => o.Id).Order());
    }

    [Fact]
    public void Each_file_holds_one_kind()
    {
        foreach (var file in InstalledManifests.All.GroupBy(o => o.Source))
        {
            Assert.Single(file.Select(o => o.Kind).Distinct());
        }
    }

    [Fact]
    public void Namespaced_objects_name_the_namespace_and_cluster_objects_none()
    {
        foreach (var obj in InstalledManifests.All)
        {
            var expected = ClusterScopedKinds.Contains(obj.Kind) ? null : InstalledManifests.Namespace;
            Assert.True(expected == obj.Namespace, $"{obj.Id}: namespace '{obj.Namespace}', expected '{expected}'");
        }
    }

    [Fact]
    public void Every_object_carries_the_app_label()
    {
        foreach (var obj in InstalledManifests.All)
        {
            var labels = obj.Yaml.GetMap("metadata")?.GetMap("labels");
            Assert.True(labels?.GetString("app.kubernetes.io/name") == "quay-admission", $"{obj.Id} lacks app.kubernetes.io/name=quay-admission");
        }
    }

    [SkippableFact]
    public async Task Kubectl_kustomize_renders_the_same_objects_as_the_files()
    {
        // The files read directly and strictly, which is what kustomize emits for this base (no
        // transformers in kustomization.yaml): what is left checked when kubectl is missing.
        var files = InstalledManifests.All;
        Assert.NotEmpty(files);
        Assert.All(files, o => Assert.True(o.Typed is not null || o.IsCertManager, o.Id));

        var rendered = await ManifestLoader.KustomizeAsync(RepoPaths.Manifests, "checked the files read directly, not what `kubectl kustomize manifests/` renders");

        Assert.True(rendered.ExitCode == 0, rendered.ToString());
        var objects = ManifestLoader.Parse(rendered.Stdout, "kubectl kustomize manifests/");
        Assert.Equal(files.Select(o => o.Id).Order(), objects.Select(o => o.Id).Order());
        foreach (var obj in objects)
        {
            var file = files.Single(f => f.Id == obj.Id);
            var difference = Yaml.FirstDifference(file.Yaml, obj.Yaml);
            Assert.True(difference is null, $"kustomize changed {obj.Id}: {difference}");
        }
    }

    [Fact]
    public void The_namespace_opts_out_of_the_webhook_and_enforces_restricted_pods()
    {
        var ns = InstalledManifests.One<V1Namespace>();

        Assert.Equal("disabled", ns.Metadata.Labels["quay-admission.io/inject"]);
        Assert.Equal("restricted", ns.Metadata.Labels["pod-security.kubernetes.io/enforce"]);
    }
}
