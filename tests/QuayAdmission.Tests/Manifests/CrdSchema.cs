extern alias KubernetesFull;

using System.Globalization;
using KubernetesFull::k8s;
using KubernetesFull::k8s.Models;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// Checks custom objects against the OpenAPI v3 schemas of their CustomResourceDefinitions: every
/// field must be declared (recursively through <c>properties</c>), with the declared type, an
/// allowed enum value, and the required fields present. Metadata is checked as a typed
/// <see cref="V1ObjectMeta"/>, since CRD schemas leave it open.
/// </summary>
internal sealed class CrdSchema
{
    private readonly Dictionary<(string ApiVersion, string Kind), YamlMappingNode> schemas = [];

    public static CrdSchema Load(string directory)
    {
        var result = new CrdSchema();
        foreach (var file in Directory.EnumerateFiles(directory, "*.yaml"))
        {
            foreach (var crd in Yaml.LoadDocuments(File.ReadAllText(file), file).Where(d => d.GetString("kind") == "CustomResourceDefinition"))
            {
                var spec = crd.GetMap("spec")!;
                var kind = spec.At("names.kind")!;
                foreach (var version in spec.GetList("versions").Cast<YamlMappingNode>())
                {
                    var schema = version.GetMap("schema")?.GetMap("openAPIV3Schema")
                        ?? throw new InvalidDataException($"{file}: version without openAPIV3Schema");
                    result.schemas[($"{spec.GetString("group")}/{version.GetString("name")}", kind)] = schema;
                }
            }
        }

        return result;
    }

    public bool Knows(string apiVersion, string kind) => schemas.ContainsKey((apiVersion, kind));

    public IReadOnlyList<string> Validate(ManifestObject obj)
    {
        if (!schemas.TryGetValue((obj.ApiVersion, obj.Kind), out var schema))
        {
            return [$"{obj.Id}: no CRD schema for {obj.ApiVersion} {obj.Kind}"];
        }

        var errors = new List<string>();
        CheckObject(obj.Yaml, schema, obj.Id, errors, isRoot: true);
        return errors;
    }

    private static void Check(YamlNode value, YamlMappingNode schema, string path, List<string> errors)
    {
        if (schema.GetString("x-kubernetes-int-or-string") == "true")
        {
            if (value is not YamlScalarNode)
            {
                errors.Add($"{path}: expected an integer or a string");
            }

            return;
        }

        switch (schema.GetString("type"))
        {
            case "object":
                CheckObject(value, schema, path, errors, isRoot: false);
                break;
            case "array":
                if (value is not YamlSequenceNode sequence)
                {
                    errors.Add($"{path}: expected an array");
                    return;
                }

                var items = schema.GetMap("items");
                for (var i = 0; i < sequence.Children.Count && items is not null; i++)
                {
                    Check(sequence.Children[i], items, $"{path}[{i}]", errors);
                }

                break;
            case "string":
                CheckScalar(value, path, errors, "a string", s => s.Style != ScalarStyle.Plain || !LooksTyped(s.Value));
                CheckEnum(value, schema, path, errors);
                break;
            case "integer":
                CheckScalar(value, path, errors, "an integer", s => s.Style == ScalarStyle.Plain && long.TryParse(s.Value, CultureInfo.InvariantCulture, out _));
                break;
            case "number":
                CheckScalar(value, path, errors, "a number", s => s.Style == ScalarStyle.Plain && double.TryParse(s.Value, CultureInfo.InvariantCulture, out _));
                break;
            case "boolean":
                CheckScalar(value, path, errors, "a boolean", s => s.Style == ScalarStyle.Plain && s.Value is "true" or "false");
                break;
            default:
                break; // no type: anything goes
        }
    }

    private static void CheckObject(YamlNode value, YamlMappingNode schema, string path, List<string> errors, bool isRoot)
    {
        if (value is not YamlMappingNode map)
        {
            errors.Add($"{path}: expected an object");
            return;
        }

        var properties = schema.GetMap("properties");
        var additional = schema.Get("additionalProperties");
        var preserveUnknown = schema.GetString("x-kubernetes-preserve-unknown-fields") == "true";
        foreach (var (key, child) in map.Entries())
        {
            var childPath = $"{path}.{key}";
            if (isRoot && key == "metadata")
            {
                CheckMetadata(child, childPath, errors);
            }
            else if (properties?.GetMap(key) is { } childSchema)
            {
                Check(child, childSchema, childPath, errors);
            }
            else if (additional is YamlMappingNode additionalSchema)
            {
                Check(child, additionalSchema, childPath, errors);
            }
            else if (!preserveUnknown && (additional as YamlScalarNode)?.Value != "true")
            {
                errors.Add($"{childPath}: not in the schema");
            }
        }

        foreach (var required in schema.GetList("required").Cast<YamlScalarNode>())
        {
            if (map.Get(required.Value!) is null)
            {
                errors.Add($"{path}.{required.Value}: required");
            }
        }
    }

    private static void CheckMetadata(YamlNode value, string path, List<string> errors)
    {
        try
        {
            KubernetesYaml.Deserialize<V1ObjectMeta>(Yaml.Serialize(value), strict: true);
        }
        catch (YamlException e)
        {
            errors.Add($"{path}: {e.Message}");
        }
    }

    private static void CheckScalar(YamlNode value, string path, List<string> errors, string expected, Func<YamlScalarNode, bool> isValid)
    {
        if (value is not YamlScalarNode scalar || !isValid(scalar))
        {
            errors.Add($"{path}: expected {expected}");
        }
    }

    private static void CheckEnum(YamlNode value, YamlMappingNode schema, string path, List<string> errors)
    {
        var allowed = schema.GetList("enum").Cast<YamlScalarNode>().Select(s => s.Value).ToList();
        if (allowed.Count > 0 && value is YamlScalarNode scalar && !allowed.Contains(scalar.Value))
        {
            errors.Add($"{path}: '{scalar.Value}' is not one of [{string.Join(", ", allowed)}]");
        }
    }

    // A plain YAML scalar that a Kubernetes decoder would read as a number, boolean or null.
    private static bool LooksTyped(string? value) =>
        value is null or "" or "~" or "null" or "true" or "false"
        || double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
}
