using System.Xml.Linq;
using k8s.Models;
using QuayAdmission.PullSecrets;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>manifests/credential-provider/: the kubelet's CredentialProviderConfig and the RBAC for its token audience.</summary>
public class CredentialProviderManifestTests
{
    private const string ConfigFile = "credential-provider-config.yaml";

    private static string Directory => Path.Combine(RepoPaths.Manifests, "credential-provider");

    private static string ConfigText => File.ReadAllText(Path.Combine(Directory, ConfigFile));

    private static YamlMappingNode Provider => (YamlMappingNode)Parse(ConfigText).GetList("providers").Single();

    private static YamlMappingNode TokenAttributes => Provider.GetMap("tokenAttributes")!;

    [Fact]
    public void The_kubelet_config_follows_the_v1_schema() =>
        Assert.Empty(KubeletConfigSchema.Validate(Parse(ConfigText)));

    [Theory]
    [InlineData("cacheType: ServiceAccount", "cacheTyp: ServiceAccount", ".providers[0].tokenAttributes.cacheTyp: unknown field")]
    [InlineData("      cacheType: ServiceAccount\n", "", ".providers[0].tokenAttributes.cacheType: required")]
    [InlineData("cacheType: ServiceAccount", "cacheType: Pod", "'Pod' is not one of Token, ServiceAccount")]
    [InlineData("requireServiceAccount: true", "requireServiceAccount: \"true\"", ".providers[0].tokenAttributes.requireServiceAccount: expected bool")]
    [InlineData("requireServiceAccount: true", "requireServiceAccount: false", "requireServiceAccount cannot be false")]
    [InlineData("defaultCacheDuration: \"0s\"", "defaultCacheDuration: 1d", "'1d' is not a Go duration")]
    [InlineData("value: \"00:10:00\"", "value: 600", ".providers[0].env[1].value: expected str")]
    [InlineData("apiVersion: kubelet.config.k8s.io/v1", "apiVersion: kubelet.config.k8s.io/v1beta1", ".apiVersion: 'kubelet.config.k8s.io/v1beta1' is not one of")]
    [InlineData("  - name: quay-credential-provider\n", "  - nam: quay-credential-provider\n", ".providers[0].name: required")]
    public void The_schema_check_catches_what_the_kubelet_refuses(string from, string to, string error)
    {
        Assert.Contains(from, ConfigText, StringComparison.Ordinal);

        var errors = KubeletConfigSchema.Validate(Parse(ConfigText.Replace(from, to, StringComparison.Ordinal)));

        Assert.Contains(errors, e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void The_provider_runs_the_plugin_with_the_token_attributes_it_needs()
    {
        var project = XDocument.Load(Path.Combine(RepoPaths.Root, "src", "QuayAdmission.CredentialProvider", "QuayAdmission.CredentialProvider.csproj"));

        Assert.Equal(project.Descendants("AssemblyName").Single().Value, Provider.GetString("name"));
        Assert.Equal("credentialprovider.kubelet.k8s.io/v1", Provider.GetString("apiVersion"));
        Assert.Equal("ServiceAccount", TokenAttributes.GetString("cacheType"));
        Assert.Equal("true", TokenAttributes.GetString("requireServiceAccount"));
        Assert.Equal([WellKnown.RobotAccountAnnotation], TokenAttributes.GetList("requiredServiceAccountAnnotationKeys").Select(k => ((YamlScalarNode)k).Value));
    }

    [Fact]
    public void The_nodes_use_the_webhooks_registry_settings_and_audience()
    {
        var env = Provider.GetList("env").Cast<YamlMappingNode>().ToDictionary(e => e.GetString("name")!, e => e.GetString("value"));
        var host = InstalledManifests.Config("QuayAdmission__Registries__0__Host");

        Assert.Equal(host, env["QuayAdmission__Registries__0__Host"]);
        Assert.Equal(InstalledManifests.Config("QuayAdmission__MinRemaining"), env["QuayAdmission__MinRemaining"]);
        Assert.All(env.Keys, key => Assert.StartsWith("QuayAdmission__", key, StringComparison.Ordinal));
        Assert.Equal([host], Provider.GetList("matchImages").Select(i => ((YamlScalarNode)i).Value));
        // The registry's Audience defaults to its host, for the webhook's TokenRequest and here alike.
        Assert.Equal(env.GetValueOrDefault("QuayAdmission__Registries__0__Audience") ?? host, TokenAttributes.GetString("serviceAccountTokenAudience"));
    }

    [Fact]
    public void Nodes_may_request_exactly_that_audience()
    {
        var audience = TokenAttributes.GetString("serviceAccountTokenAudience")!;
        var objects = ManifestLoader.LoadFiles(Directory);
        var role = Assert.Single(objects.Select(o => o.Typed).OfType<V1ClusterRole>());
        var binding = Assert.Single(objects.Select(o => o.Typed).OfType<V1ClusterRoleBinding>());

        var rule = Assert.Single(role.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal([audience], rule.Resources);
        Assert.Equal(["request-serviceaccounts-token-audience"], rule.Verbs);
        Assert.Null(rule.ResourceNames);
        Assert.Equal(("rbac.authorization.k8s.io", "ClusterRole", role.Metadata.Name), (binding.RoleRef.ApiGroup, binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("rbac.authorization.k8s.io", "Group", "system:nodes"), (subject.ApiGroup, subject.Kind, subject.Name));
        Assert.Equal(2, objects.Count);
    }

    [Fact]
    public void It_is_not_part_of_the_webhooks_installation()
    {
        Assert.DoesNotContain(ManifestLoader.KustomizationResources(RepoPaths.Manifests), r => r.Contains("credential-provider", StringComparison.Ordinal));
        Assert.DoesNotContain(ConfigFile, ManifestLoader.KustomizationResources(Directory));
        Assert.DoesNotContain(InstalledManifests.All, o => o.Name.Contains("credential-provider", StringComparison.Ordinal));
    }

    private static YamlMappingNode Parse(string text) => Yaml.LoadDocuments(text, ConfigFile).Single();
}
