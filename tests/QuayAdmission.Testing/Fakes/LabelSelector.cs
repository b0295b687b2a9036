using System.Buffers;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A parsed <c>labelSelector</c> of the form the webhook sends (<c>app.kubernetes.io/managed-by=quay-admission</c>,
/// <c>quay-admission.io/injected=true</c>): comma-separated <c>key=value</c> or <c>key==value</c>
/// requirements, all of which must hold, as k8s.io/apimachinery/pkg/labels matches them. The other
/// operators of that grammar (<c>!=</c>, <c>in</c>, <c>notin</c>, <c>key</c>, <c>!key</c>, <c>&gt;</c>,
/// <c>&lt;</c>) are refused with a reason: the stand-in does not serve them, rather than answering as if it did.
/// </summary>
internal sealed class LabelSelector
{
    private readonly List<(string Key, string Value)> _requirements;

    private LabelSelector(List<(string Key, string Value)> requirements) => _requirements = requirements;

    public static LabelSelector Everything { get; } = new([]);

    public bool IsEverything => _requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels) =>
        _requirements.TrueForAll(r => labels.TryGetValue(r.Key, out var value) && value == r.Value);

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? text, out LabelSelector selector, out string error)
    {
        selector = Everything;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        var requirements = new List<(string, string)>();
        foreach (var term in text.Split(','))
        {
            var equals = term.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? "" : term[..equals].Trim();
            var value = equals < 0 ? "" : term[(equals + 1)..].TrimStart('=').Trim();
            if (key.Length == 0 || key.AsSpan().ContainsAny(Operators) || value.AsSpan().ContainsAny(Operators) || term.Count(c => c == '=') > 2)
            {
                error = $"unable to parse requirement: '{term.Trim()}': the stand-in serves equality selectors (key=value) only";
                return false;
            }

            requirements.Add((key, value));
        }

        selector = new LabelSelector(requirements);
        return true;
    }

    // What the other operators and set syntax use; none may appear in a key or value of key=value.
    private static readonly SearchValues<char> Operators = SearchValues.Create("!()<> =");
}
