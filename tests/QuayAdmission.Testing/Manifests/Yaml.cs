using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace QuayAdmission.Tests.Manifests;

/// <summary>Small helpers over YamlDotNet's node model, which KubernetesClient already brings.</summary>
public static class Yaml
{
    public static IReadOnlyList<YamlMappingNode> LoadDocuments(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }

        var documents = new List<YamlMappingNode>();
        foreach (var document in stream.Documents)
        {
            switch (document.RootNode)
            {
                case YamlMappingNode mapping:
                    documents.Add(mapping);
                    break;
                case YamlScalarNode { Value: null or "" }:
                    break; // an empty document, e.g. after a trailing ---
                default:
                    throw new InvalidDataException($"{source}: a document is not a mapping");
            }
        }

        return documents;
    }

    public static string Serialize(YamlNode node)
    {
        using var writer = new StringWriter();
        new YamlStream(new YamlDocument(node)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    public static YamlNode? Get(this YamlMappingNode map, string key) =>
        map.Children.FirstOrDefault(pair => pair.Key is YamlScalarNode scalar && scalar.Value == key).Value;

    public static string? GetString(this YamlMappingNode map, string key) => (map.Get(key) as YamlScalarNode)?.Value;

    public static YamlMappingNode? GetMap(this YamlMappingNode map, string key) => map.Get(key) as YamlMappingNode;

    public static IEnumerable<YamlNode> GetList(this YamlMappingNode map, string key) =>
        (map.Get(key) as YamlSequenceNode)?.Children ?? [];

    /// <summary>Follows a path of mapping keys, e.g. "spec.issuerRef.name".</summary>
    public static string? At(this YamlMappingNode map, string dottedPath)
    {
        YamlNode? node = map;
        foreach (var key in dottedPath.Split('.'))
        {
            node = (node as YamlMappingNode)?.Get(key);
        }

        return (node as YamlScalarNode)?.Value;
    }

    public static IEnumerable<(string Key, YamlNode Value)> Entries(this YamlMappingNode map) =>
        map.Children.Select(pair => (((YamlScalarNode)pair.Key).Value ?? "", pair.Value));

    /// <summary>The first place where two trees differ in keys, lengths or scalar values, or null.</summary>
    public static string? FirstDifference(YamlNode expected, YamlNode actual, string path = "")
    {
        switch (expected, actual)
        {
            case (YamlMappingNode e, YamlMappingNode a):
                var expectedKeys = e.Entries().Select(entry => entry.Key).ToHashSet();
                var actualKeys = a.Entries().Select(entry => entry.Key).ToHashSet();
                if (!expectedKeys.SetEquals(actualKeys))
                {
                    return $"{path}: keys [{string.Join(", ", expectedKeys.Order())}] != [{string.Join(", ", actualKeys.Order())}]";
                }

                return e.Entries()
                    .Select(entry => FirstDifference(entry.Value, a.Get(entry.Key)!, $"{path}.{entry.Key}"))
                    .FirstOrDefault(difference => difference is not null);
            case (YamlSequenceNode e, YamlSequenceNode a):
                if (e.Children.Count != a.Children.Count)
                {
                    return $"{path}: {e.Children.Count} items != {a.Children.Count}";
                }

                return e.Children.Zip(a.Children)
                    .Select((pair, i) => FirstDifference(pair.First, pair.Second, $"{path}[{i}]"))
                    .FirstOrDefault(difference => difference is not null);
            case (YamlScalarNode e, YamlScalarNode a):
                return e.Value == a.Value ? null : $"{path}: '{e.Value}' != '{a.Value}'";
            default:
                return $"{path}: {expected.NodeType} != {actual.NodeType}";
        }
    }
}
