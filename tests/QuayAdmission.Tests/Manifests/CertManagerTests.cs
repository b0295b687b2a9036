extern alias KubernetesFull;

using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// Self-signed Issuer -> long-lived CA Certificate -> CA Issuer -> serving Certificate, the chain
/// cert-manager's own webhook uses: renewing the serving certificate never changes the caBundle.
/// </summary>
public class CertManagerTests
{
    private static readonly CrdSchema Schemas = CrdSchema.Load(RepoPaths.Crds);

    private static ManifestObject Serving => InstalledManifests.CertManager("Certificate", "quay-admission-serving");

    [Fact]
    public void Every_cert_manager_object_matches_its_CRD_schema()
    {
        var objects = InstalledManifests.All.Where(o => o.IsCertManager).ToList();

        Assert.Equal(4, objects.Count);
        Assert.All(objects, obj => Assert.Empty(Schemas.Validate(obj)));
    }

    [Fact]
    public void The_chain_runs_from_a_self_signed_issuer_to_the_serving_certificate()
    {
        var caIssuer = IssuerOf(Serving);
        var ca = Assert.Single(InstalledManifests.All, o => o.Kind == "Certificate" && o.Yaml.At("spec.secretName") == caIssuer.Yaml.At("spec.ca.secretName"));
        var selfSigned = IssuerOf(ca);

        Assert.NotNull(selfSigned.Yaml.GetMap("spec")!.GetMap("selfSigned"));
        Assert.Equal("true", ca.Yaml.At("spec.isCA"));
        Assert.NotEqual("true", Serving.Yaml.At("spec.isCA"));
        Assert.True(GoDuration.Parse(ca.Yaml.At("spec.duration")!) >= TimeSpan.FromDays(4 * 365), "the CA should be long-lived");
    }

    [Fact]
    public void The_serving_certificate_names_the_service_and_renews_well_before_expiry()
    {
        var service = InstalledManifests.One<KubernetesFull::k8s.Models.V1Service>().Metadata;
        var duration = GoDuration.Parse(Serving.Yaml.At("spec.duration")!);
        var renewBefore = GoDuration.Parse(Serving.Yaml.At("spec.renewBefore")!);

        Assert.Equal(
            [$"{service.Name}.{service.NamespaceProperty}.svc", $"{service.Name}.{service.NamespaceProperty}.svc.cluster.local"],
            Serving.Yaml.GetMap("spec")!.GetList("dnsNames").Cast<YamlScalarNode>().Select(s => s.Value));
        Assert.Equal("quay-admission-tls", Serving.Yaml.At("spec.secretName"));
        Assert.Equal(TimeSpan.FromDays(90), duration);
        Assert.Equal(TimeSpan.FromDays(30), renewBefore);
        Assert.True(renewBefore < duration);
        Assert.Contains("server auth", Serving.Yaml.GetMap("spec")!.GetList("usages").Cast<YamlScalarNode>().Select(s => s.Value));
    }

    [Fact]
    public void The_serving_key_is_PKCS8_for_the_dotnet_PEM_loader() =>
        Assert.Equal("PKCS8", Serving.Yaml.At("spec.privateKey.encoding"));

    private static ManifestObject IssuerOf(ManifestObject certificate)
    {
        Assert.Equal("Issuer", certificate.Yaml.At("spec.issuerRef.kind"));
        Assert.Equal("cert-manager.io", certificate.Yaml.At("spec.issuerRef.group"));
        return InstalledManifests.CertManager("Issuer", certificate.Yaml.At("spec.issuerRef.name")!);
    }
}
