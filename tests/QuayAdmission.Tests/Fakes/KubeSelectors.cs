using k8s;
using k8s.Models;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// The equality-based subset of label and field selectors: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, and for
/// labels also <c>k</c> and <c>!k</c>; comma-separated terms are ANDed. Set-based terms (<c>k in (a,b)</c>)
/// are refused with an error rather than silently matching everything.
/// </summary>
internal static class KubeSelectors
{
    public static bool TryParseLabels(string? text, out Func<IDictionary<string, string>?, bool> matches, out string error)
    {
        var terms = new List<Func<IDictionary<string, string>?, bool>>();
        matches = labels => terms.TrueForAll(t => t(labels));
        error = "";
        foreach (var term in Terms(text))
        {
            if (term.IndexOfAny(['(', ' ']) >= 0 || term.Length == 0)
            {
                error = $"unable to parse requirement: the stand-in supports only equality-based label selectors, got \"{term}\"";
                return false;
            }

            var (key, op, value) = Split(term);
            terms.Add(op switch
            {
                "=" => labels => Label(labels, key) == value,
                "!=" => labels => Label(labels, key) != value,
                _ when key.StartsWith('!') => labels => Label(labels, key[1..]) is null,
                _ => labels => Label(labels, key) is not null,
            });
        }

        return true;
    }

    /// <summary>Field selectors on metadata.name and metadata.namespace, plus the few fields the real API indexes for pods and secrets.</summary>
    public static bool TryParseFields<T>(string? text, out Func<T, bool> matches, out string error)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var terms = new List<Func<T, bool>>();
        matches = obj => terms.TrueForAll(t => t(obj));
        error = "";
        foreach (var term in Terms(text))
        {
            var (field, op, value) = Split(term);
            if (op is null || !Supported<T>(field))
            {
                error = $"field label not supported: {field}";
                return false;
            }

            terms.Add(op == "=" ? obj => Field(obj, field) == value : obj => Field(obj, field) != value);
        }

        return true;
    }

    private static IEnumerable<string> Terms(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : text.Split(',').Select(t => t.Trim());

    private static (string Key, string? Op, string Value) Split(string term)
    {
        var notEqual = term.IndexOf("!=", StringComparison.Ordinal);
        if (notEqual > 0)
        {
            return (term[..notEqual].Trim(), "!=", term[(notEqual + 2)..].Trim());
        }

        var equal = term.IndexOf('=');
        return equal > 0
            ? (term[..equal].Trim(), "=", term[(equal + 1)..].TrimStart('=').Trim())
            : (term, null, "");
    }

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private static bool Supported<T>(string field) => field is "metadata.name" or "metadata.namespace"
        || (typeof(T) == typeof(V1Pod) && field is "spec.serviceAccountName" or "spec.nodeName" or "status.phase")
        || (typeof(T) == typeof(V1Secret) && field is "type");

    private static string? Field<T>(T obj, string field) where T : IKubernetesObject<V1ObjectMeta> => (field, obj) switch
    {
        ("metadata.name", _) => obj.Metadata?.Name,
        ("metadata.namespace", _) => obj.Metadata?.NamespaceProperty,
        ("spec.serviceAccountName", V1Pod p) => p.Spec?.ServiceAccountName ?? "",
        ("spec.nodeName", V1Pod p) => p.Spec?.NodeName ?? "",
        ("status.phase", V1Pod p) => p.Status?.Phase ?? "",
        ("type", V1Secret s) => s.Type ?? "",
        _ => null,
    };
}
