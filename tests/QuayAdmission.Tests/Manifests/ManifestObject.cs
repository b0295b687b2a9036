using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// One object of a manifest: its YAML as written and, for Kubernetes' own kinds, the typed model
/// (null for cert-manager kinds, which are checked against their CRD schemas instead).
/// </summary>
internal sealed record ManifestObject(
    string ApiVersion,
    string Kind,
    string? Namespace,
    string Name,
    YamlMappingNode Yaml,
    object? Typed,
    string Source)
{
    public bool IsCertManager => ApiVersion.StartsWith("cert-manager.io/", StringComparison.Ordinal);

    public string Id => Namespace is null ? $"{Kind} {Name}" : $"{Kind} {Namespace}/{Name}";
}
