extern alias KubernetesFull;

using KubernetesFull::k8s;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// Reads manifests strictly: Kubernetes' own kinds go through KubernetesClient's
/// <see cref="KubernetesYaml"/> with <c>strict: true</c>, so a misspelt field anywhere in the object
/// fails; cert-manager kinds are checked against their CRD schemas by <see cref="CrdSchema"/>.
/// </summary>
internal static class ManifestLoader
{
    public static IReadOnlyList<ManifestObject> Parse(string text, string source) =>
        Yaml.LoadDocuments(text, source).Select(document => ToObject(document, source)).ToList();

    /// <summary>The files a kustomization lists under <c>resources</c>, in its order.</summary>
    public static IReadOnlyList<string> KustomizationResources(string directory)
    {
        var kustomization = Yaml.LoadDocuments(File.ReadAllText(Path.Combine(directory, "kustomization.yaml")), "kustomization.yaml").Single();
        return kustomization.GetList("resources").Select(node => ((YamlScalarNode)node).Value!).ToList();
    }

    public static IReadOnlyList<ManifestObject> LoadFiles(string directory) =>
        KustomizationResources(directory)
            .SelectMany(file => Parse(File.ReadAllText(Path.Combine(directory, file)), file))
            .ToList();

    /// <summary><c>kubectl kustomize</c> of a directory; without kubectl the test is skipped, saying what it left <paramref name="notChecked"/>.</summary>
    public static async Task<ToolResult> KustomizeAsync(string directory, string notChecked) =>
        await ExternalTool.RunAsync(ExternalTool.Require("kubectl", notChecked), ["kustomize", directory], RepoPaths.Root);

    private static ManifestObject ToObject(YamlMappingNode document, string source)
    {
        var apiVersion = document.GetString("apiVersion") ?? throw new InvalidDataException($"{source}: an object without apiVersion");
        var kind = document.GetString("kind") ?? throw new InvalidDataException($"{source}: an object without kind");
        var name = document.At("metadata.name") ?? throw new InvalidDataException($"{source}: a {kind} without metadata.name");
        var typed = apiVersion.StartsWith("cert-manager.io/", StringComparison.Ordinal) ? null : LoadTyped(document, $"{source}: {kind} {name}");
        return new ManifestObject(apiVersion, kind, document.At("metadata.namespace"), name, document, typed, source);
    }

    private static object LoadTyped(YamlMappingNode document, string what)
    {
        try
        {
            return KubernetesYaml.LoadAllFromString(Yaml.Serialize(document), typeMap: null, strict: true).Single();
        }
        catch (Exception e) when (e is YamlException or KeyNotFoundException)
        {
            // KeyNotFoundException: KubernetesClient has no type for this apiVersion/kind.
            throw new InvalidDataException($"{what}: {e.Message}", e);
        }
    }
}
