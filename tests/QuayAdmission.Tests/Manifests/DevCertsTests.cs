extern alias KubernetesFull;

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KubernetesFull::k8s.Models;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>The path without cert-manager: certs/generate.sh and certs/kustomization.yaml.</summary>
public sealed class DevCertsTests : IDisposable
{
    private static readonly string[] ServiceNames =
        ["quay-admission.quay-admission.svc", "quay-admission.quay-admission.svc.cluster.local"];

    private readonly DirectoryInfo temp = Directory.CreateTempSubdirectory("quay-admission-certs-");

    public void Dispose() => temp.Delete(recursive: true);

    [SkippableFact]
    public async Task Generate_writes_a_CA_and_a_serving_certificate_for_the_service()
    {
        RequireGenerateTools();
        await GenerateAsync(temp.FullName);

        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(temp.FullName, "ca.crt")));
        using var serving = X509Certificate2.CreateFromPemFile(Path.Combine(temp.FullName, "tls.crt"), Path.Combine(temp.FullName, "tls.key"));
        Assert.True(BasicConstraints(ca).CertificateAuthority);
        Assert.False(BasicConstraints(serving).CertificateAuthority);
        Assert.Equal(ServiceNames, DnsNames(serving));
        Assert.True(serving.HasPrivateKey);
        Assert.NotNull(serving.GetECDsaPrivateKey());
        Assert.True(serving.NotAfter > DateTime.Now.AddDays(300));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1")); // server auth
        Assert.True(chain.Build(serving), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    [SkippableFact]
    public async Task Generate_again_keeps_the_CA_and_renews_the_serving_certificate()
    {
        RequireGenerateTools();
        await GenerateAsync(temp.FullName);
        var ca = File.ReadAllText(Path.Combine(temp.FullName, "ca.crt"));
        var serving = File.ReadAllText(Path.Combine(temp.FullName, "tls.crt"));
        await GenerateAsync(temp.FullName);

        Assert.Equal(ca, File.ReadAllText(Path.Combine(temp.FullName, "ca.crt")));
        Assert.NotEqual(serving, File.ReadAllText(Path.Combine(temp.FullName, "tls.crt")));
    }

    [Fact]
    public void The_dev_certs_kustomization_deletes_exactly_the_cert_manager_objects()
    {
        var kustomization = Yaml.LoadDocuments(File.ReadAllText(Path.Combine(RepoPaths.Certs, "kustomization.yaml")), "certs/kustomization.yaml").Single();
        var deleted = kustomization.GetList("patches").Cast<YamlMappingNode>()
            .Select(p => p.GetString("patch")!)
            .Where(p => p.Contains("$patch: delete", StringComparison.Ordinal))
            .Select(p => Yaml.LoadDocuments(p, "patch").Single())
            .Select(p => $"{p.GetString("kind")} {p.At("metadata.namespace")}/{p.At("metadata.name")}");

        Assert.Equal(["../manifests"], kustomization.GetList("resources").Cast<YamlScalarNode>().Select(s => s.Value));
        Assert.Equal(InstalledManifests.All.Where(o => o.IsCertManager).Select(o => o.Id).Order(), deleted.Order());
    }

    [SkippableFact]
    public async Task The_dev_certs_kustomization_renders_the_secret_and_the_ca_bundle()
    {
        // The layout kustomize sees in the repository: manifests/, certs/kustomization.yaml, certs/out/.
        var manifests = Directory.CreateDirectory(Path.Combine(temp.FullName, "manifests"));
        var certs = Directory.CreateDirectory(Path.Combine(temp.FullName, "certs"));
        var outDir = Directory.CreateDirectory(Path.Combine(certs.FullName, "out"));
        foreach (var file in Directory.EnumerateFiles(RepoPaths.Manifests))
        {
            File.Copy(file, Path.Combine(manifests.FullName, Path.GetFileName(file)));
        }

        File.Copy(Path.Combine(RepoPaths.Certs, "kustomization.yaml"), Path.Combine(certs.FullName, "kustomization.yaml"));
        if (ExternalTool.Find("bash") is not null && ExternalTool.Find("openssl") is not null)
        {
            await GenerateAsync(outDir.FullName);
        }
        else
        {
            foreach (var name in new[] { "ca.crt", "tls.crt", "tls.key" })
            {
                await File.WriteAllTextAsync(Path.Combine(outDir.FullName, name), $"not a real {name}\n");
            }
        }

        var rendered = await ManifestLoader.KustomizeAsync(certs.FullName, "certs/kustomization.yaml's patches are checked (the test above), not what it renders");

        Assert.True(rendered.ExitCode == 0, rendered.ToString());
        var objects = ManifestLoader.Parse(rendered.Stdout, "kubectl kustomize certs/");
        Assert.DoesNotContain(objects, o => o.IsCertManager);
        var secret = Assert.Single(objects.Select(o => o.Typed).OfType<V1Secret>());
        Assert.Equal(("quay-admission-tls", InstalledManifests.Namespace, "kubernetes.io/tls"), (secret.Metadata.Name, secret.Metadata.NamespaceProperty, secret.Type));
        Assert.Equal(["ca.crt", "tls.crt", "tls.key"], secret.Data.Keys.Order());
        Assert.Equal(File.ReadAllBytes(Path.Combine(outDir.FullName, "tls.key")), secret.Data["tls.key"]);
        var webhook = Assert.Single(Assert.Single(objects.Select(o => o.Typed).OfType<V1MutatingWebhookConfiguration>()).Webhooks);
        Assert.Equal(File.ReadAllBytes(Path.Combine(outDir.FullName, "ca.crt")), webhook.ClientConfig.CaBundle);
        var annotations = objects.Single(o => o.Kind == "MutatingWebhookConfiguration").Yaml.GetMap("metadata")!.GetMap("annotations");
        Assert.True(annotations is null || annotations.Get("cert-manager.io/inject-ca-from") is null);
        // Everything else is the base, unchanged.
        Assert.Equal(InstalledManifests.All.Count(o => !o.IsCertManager) + 1, objects.Count);
        TokenPolicyAgreement.AssertAgree(objects);
    }

    // .ci/run installs them, so on CI a missing one fails; elsewhere the test is skipped, saying so.
    private static void RequireGenerateTools()
    {
        foreach (var tool in (string[])["bash", "openssl"])
        {
            Assert.True(ExternalTool.Find(tool) is not null || Environment.GetEnvironmentVariable("CI") != "true", $"{tool} missing on CI");
            ExternalTool.Require(tool, "certs/generate.sh not run");
        }
    }

    private static async Task GenerateAsync(string outDir)
    {
        var result = await ExternalTool.RunAsync(
            "bash",
            [Path.Combine(RepoPaths.Certs, "generate.sh")],
            RepoPaths.Root,
            new Dictionary<string, string?> { ["OUT_DIR"] = outDir });
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private static X509BasicConstraintsExtension BasicConstraints(X509Certificate2 certificate) =>
        Assert.Single(certificate.Extensions.OfType<X509BasicConstraintsExtension>());

    private static IEnumerable<string> DnsNames(X509Certificate2 certificate)
    {
        var extension = Assert.Single(certificate.Extensions.Cast<X509Extension>(), e => e.Oid?.Value == "2.5.29.17");
        return new X509SubjectAlternativeNameExtension(extension.RawData, extension.Critical).EnumerateDnsNames();
    }
}
