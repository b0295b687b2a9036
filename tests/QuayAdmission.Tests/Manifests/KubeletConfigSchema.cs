using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// The kubelet's <c>kubelet.config.k8s.io/v1 CredentialProviderConfig</c> as the Kubernetes reference
/// documents it (field names, types, required fields), read as strictly as the kubelet's decoder
/// (an unknown field is an error), plus the rules its validation adds (cacheType values, a required
/// annotation key needing requireServiceAccount, unique keys, a non-negative defaultCacheDuration).
/// KubernetesClient has no type for it: the kubelet reads it from disk, it is not an API object.
/// </summary>
internal static partial class KubeletConfigSchema
{
    private abstract record Node;
    private sealed record Str(params string[] Allowed) : Node;
    private sealed record Bool : Node;
    private sealed record Duration : Node;
    private sealed record List(Node Item) : Node;
    private sealed record Object(string[] Required, Dictionary<string, Node> Fields) : Node;

    private static readonly Object TokenAttributes = new(
        ["serviceAccountTokenAudience", "cacheType", "requireServiceAccount"],
        new()
        {
            ["serviceAccountTokenAudience"] = new Str(),
            ["cacheType"] = new Str("Token", "ServiceAccount"),
            ["requireServiceAccount"] = new Bool(),
            ["requiredServiceAccountAnnotationKeys"] = new List(new Str()),
            ["optionalServiceAccountAnnotationKeys"] = new List(new Str()),
        });

    private static readonly Object Provider = new(
        ["name", "matchImages", "defaultCacheDuration", "apiVersion"],
        new()
        {
            ["name"] = new Str(),
            ["matchImages"] = new List(new Str()),
            ["defaultCacheDuration"] = new Duration(),
            ["apiVersion"] = new Str("credentialprovider.kubelet.k8s.io/v1", "credentialprovider.kubelet.k8s.io/v1beta1", "credentialprovider.kubelet.k8s.io/v1alpha1"),
            ["args"] = new List(new Str()),
            ["env"] = new List(new Object(["name", "value"], new() { ["name"] = new Str(), ["value"] = new Str() })),
            ["tokenAttributes"] = TokenAttributes,
        });

    private static readonly Object Config = new(
        ["apiVersion", "kind", "providers"],
        new()
        {
            ["apiVersion"] = new Str("kubelet.config.k8s.io/v1"),
            ["kind"] = new Str("CredentialProviderConfig"),
            ["providers"] = new List(Provider),
        });

    /// <summary>Every way <paramref name="document"/> departs from the schema; empty when the kubelet would take it.</summary>
    public static IReadOnlyList<string> Validate(YamlMappingNode document)
    {
        var errors = new List<string>();
        Check(Config, document, "", errors);
        if (errors.Count == 0)
            CheckRules(document, errors);
        return errors;
    }

    private static void Check(Node schema, YamlNode node, string path, List<string> errors)
    {
        switch (schema, node)
        {
            case (Object o, YamlMappingNode map):
                foreach (var (key, value) in map.Entries())
                {
                    if (o.Fields.TryGetValue(key, out var field))
                        Check(field, value, $"{path}.{key}", errors);
                    else
                        errors.Add($"{path}.{key}: unknown field");
                }
                errors.AddRange(o.Required.Where(key => map.Get(key) is null).Select(key => $"{path}.{key}: required"));
                break;
            case (List l, YamlSequenceNode sequence):
                for (var i = 0; i < sequence.Children.Count; i++)
                    Check(l.Item, sequence.Children[i], $"{path}[{i}]", errors);
                break;
            case (Str s, YamlScalarNode scalar) when IsString(scalar):
                if (s.Allowed.Length > 0 && !s.Allowed.Contains(scalar.Value))
                    errors.Add($"{path}: '{scalar.Value}' is not one of {string.Join(", ", s.Allowed)}");
                break;
            case (Bool, YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "true" or "false" }):
                break;
            case (Duration, YamlScalarNode scalar) when IsString(scalar):
                try
                {
                    GoDuration.Parse(scalar.Value!);
                }
                catch (FormatException)
                {
                    errors.Add($"{path}: '{scalar.Value}' is not a Go duration");
                }
                break;
            default:
                errors.Add($"{path}: expected {schema.GetType().Name.ToLowerInvariant()}, found {node}");
                break;
        }
    }

    /// <summary>What validateCredentialProviderConfig adds to the types.</summary>
    private static void CheckRules(YamlMappingNode document, List<string> errors)
    {
        var providers = document.GetList("providers").Cast<YamlMappingNode>().ToList();
        if (providers.Count == 0)
            errors.Add(".providers: at least one provider is required");
        if (providers.Select(p => p.GetString("name")).Distinct().Count() != providers.Count)
            errors.Add(".providers: names must be unique");
        foreach (var provider in providers)
        {
            var name = provider.GetString("name")!;
            if (name is "." or ".." || name.Contains('/', StringComparison.Ordinal) || name.Contains(' ', StringComparison.Ordinal))
                errors.Add($".providers.name: '{name}' cannot be a file name");
            if (!provider.GetList("matchImages").Any())
                errors.Add($".providers[{name}].matchImages: at least one image is required");
            if (provider.GetMap("tokenAttributes") is not { } token)
                continue;
            if (provider.GetString("apiVersion") != "credentialprovider.kubelet.k8s.io/v1")
                errors.Add($".providers[{name}].tokenAttributes: only for credentialprovider.kubelet.k8s.io/v1");
            if (token.GetString("serviceAccountTokenAudience") is null or "")
                errors.Add($".providers[{name}].tokenAttributes.serviceAccountTokenAudience: required");
            var required = Keys(token, "requiredServiceAccountAnnotationKeys");
            var optional = Keys(token, "optionalServiceAccountAnnotationKeys");
            if (required.Count > 0 && token.GetString("requireServiceAccount") != "true")
                errors.Add($".providers[{name}].tokenAttributes: requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set");
            foreach (var key in required.Concat(optional).Where(k => !QualifiedName().IsMatch(k.ToLowerInvariant())))
                errors.Add($".providers[{name}].tokenAttributes: '{key}' is not a qualified annotation key");
            if (required.Distinct().Count() != required.Count || optional.Distinct().Count() != optional.Count || required.Intersect(optional).Any())
                errors.Add($".providers[{name}].tokenAttributes: annotation keys must be unique and not both required and optional");
        }
    }

    private static List<string> Keys(YamlMappingNode token, string field) =>
        token.GetList(field).Select(k => ((YamlScalarNode)k).Value!).ToList();

    /// <summary>A string to the kubelet's YAML-to-JSON step: quoted, or plain but not a number, boolean or null.</summary>
    private static bool IsString(YamlScalarNode scalar) =>
        scalar.Style != YamlDotNet.Core.ScalarStyle.Plain || !NonString().IsMatch(scalar.Value ?? "");

    [GeneratedRegex(@"^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|no|on|off|[-+]?(\d[\d_]*)?\.?\d+([eE][-+]?\d+)?|0x[0-9a-fA-F]+)$")]
    private static partial Regex NonString();

    // An optional DNS subdomain prefix and a '/', then a name of alphanumerics, '-', '_' and '.'.
    [GeneratedRegex(@"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")]
    private static partial Regex QualifiedName();
}
