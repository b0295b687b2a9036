using System.Globalization;
using System.Text.Json.Nodes;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// Applies a returned patch as the API server would (RFC 6902 add, remove, replace and test, RFC 6901
/// pointers with <c>~0</c>/<c>~1</c>, <c>-</c> for an array's end), written apart from src's patch
/// builder so the two cannot share a mistake. An operation that does not apply fails the test.
/// </summary>
public static class JsonPatchApplier
{
    public static JsonNode Apply(string documentJson, byte[] patchJson)
    {
        var document = JsonNode.Parse(documentJson)!;
        foreach (var operation in JsonNode.Parse(patchJson)!.AsArray())
        {
            var op = operation!["op"]!.GetValue<string>();
            var path = Tokens(operation["path"]!.GetValue<string>());
            Assert.True(path.Count > 0, $"{op} of the whole document");
            var parent = Resolve(document, path.Take(path.Count - 1));
            var last = path[^1];
            switch (op)
            {
                case "add":
                    Add(parent, last, operation["value"]?.DeepClone());
                    break;
                case "remove":
                    Remove(parent, last);
                    break;
                case "replace":
                    Remove(parent, last);
                    Add(parent, last, operation["value"]?.DeepClone());
                    break;
                case "test":
                    Assert.True(JsonNode.DeepEquals(Child(parent, last), operation["value"]), $"test failed at {operation["path"]}");
                    break;
                default:
                    Assert.Fail($"unexpected patch operation {op}");
                    break;
            }
        }

        return document;
    }

    public static IReadOnlyList<string> Ops(byte[] patchJson) =>
        JsonNode.Parse(patchJson)!.AsArray().Select(op => op!["op"]!.GetValue<string>()).ToList();

    private static List<string> Tokens(string pointer)
    {
        Assert.True(pointer.Length == 0 || pointer[0] == '/', $"not a JSON pointer: {pointer}");
        return pointer.Length == 0 ? [] : [.. pointer[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];
    }

    private static JsonNode Resolve(JsonNode document, IEnumerable<string> tokens) =>
        tokens.Aggregate(document, (node, token) => Child(node, token) ?? throw new InvalidOperationException($"no member {token}"));

    private static JsonNode? Child(JsonNode node, string token) => node switch
    {
        JsonObject o => o.TryGetPropertyValue(token, out var value) ? value : throw new InvalidOperationException($"no member {token}"),
        JsonArray a => a[Index(a, token, allowEnd: false)],
        _ => throw new InvalidOperationException($"{token} of a value"),
    };

    private static void Add(JsonNode parent, string token, JsonNode? value)
    {
        switch (parent)
        {
            case JsonObject o:
                o[token] = value;
                break;
            case JsonArray a:
                a.Insert(Index(a, token, allowEnd: true), value);
                break;
            default:
                throw new InvalidOperationException($"add {token} to a value");
        }
    }

    private static void Remove(JsonNode parent, string token)
    {
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(token):
                o.Remove(token);
                break;
            case JsonArray a:
                a.RemoveAt(Index(a, token, allowEnd: false));
                break;
            default:
                throw new InvalidOperationException($"remove of missing {token}");
        }
    }

    private static int Index(JsonArray array, string token, bool allowEnd)
    {
        if (token == "-" && allowEnd)
        {
            return array.Count;
        }

        var valid = int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && (token == "0" || token[0] != '0')
            && index <= (allowEnd ? array.Count : array.Count - 1);
        return valid ? index : throw new InvalidOperationException($"array index {token} out of range");
    }
}
