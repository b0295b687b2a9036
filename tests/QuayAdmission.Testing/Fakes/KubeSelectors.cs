using System.Text;
using System.Text.RegularExpressions;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A parsed <c>labelSelector</c>, with the grammar and meaning of k8s.io/apimachinery/pkg/labels:
/// comma-separated requirements, all of which must hold:
/// <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>, <c>k notin (a,b)</c>, <c>k</c>, <c>!k</c>, <c>k&gt;1</c>, <c>k&lt;1</c>.
/// <c>!=</c> and <c>notin</c> also match objects without the label, as in the real API.
/// </summary>
internal sealed partial class LabelSelector
{
    private enum Op
    {
        In,
        NotIn,
        Exists,
        DoesNotExist,
        GreaterThan,
        LessThan,
    }

    private sealed record Requirement(string Key, Op Op, IReadOnlySet<string> Values, long Bound = 0);

    private readonly List<Requirement> _requirements;

    private LabelSelector(List<Requirement> requirements) => _requirements = requirements;

    public static LabelSelector Everything { get; } = new([]);

    public bool IsEverything => _requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels) => _requirements.TrueForAll(r => Matches(r, labels));

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> is the API server's message.</summary>
    public static bool TryParse(string? text, out LabelSelector selector, out string error)
    {
        selector = Everything;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        var parser = new Parser(text);
        var requirements = new List<Requirement>();
        while (true)
        {
            if (!parser.TryRequirement(out var requirement, out error))
            {
                error = $"unable to parse requirement: {error}";
                return false;
            }

            requirements.Add(requirement);
            var next = parser.Next();
            if (next.Length == 0)
            {
                break;
            }

            if (next != ",")
            {
                error = $"found '{next}', expected: ',' or 'end of string'";
                return false;
            }
        }

        selector = new LabelSelector(requirements);
        return true;
    }

    private static bool Matches(Requirement r, IReadOnlyDictionary<string, string> labels)
    {
        var has = labels.TryGetValue(r.Key, out var value);
        return r.Op switch
        {
            Op.In => has && r.Values.Contains(value!),
            Op.NotIn => !has || !r.Values.Contains(value!),
            Op.Exists => has,
            Op.DoesNotExist => !has,
            Op.GreaterThan => has && long.TryParse(value, out var number) && number > r.Bound,
            _ => has && long.TryParse(value, out var number) && number < r.Bound,
        };
    }

    // Label keys: an optional DNS subdomain prefix and '/', then a name of at most 63 characters.
    [GeneratedRegex("^(?:(?=.{1,253}/)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?(?=.{1,63}$)[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelKey();

    [GeneratedRegex("^(?:(?=.{1,63}$)[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")]
    private static partial Regex LabelValue();

    /// <summary>The lexer and parser of labels.Parse: identifiers end at whitespace or one of <c>!=(),&lt;&gt;</c>.</summary>
    private sealed class Parser(string text)
    {
        private int _at;

        public string Next()
        {
            var token = Peek(out var end);
            _at = end;
            return token;
        }

        public bool TryRequirement(out Requirement requirement, out string error)
        {
            requirement = null!;
            var first = Next();
            var negated = first == "!";
            var key = negated ? Next() : first;
            if (!IsIdentifier(key))
            {
                error = $"found '{Shown(key)}', expected: !, identifier, or 'end of string'";
                return false;
            }

            if (!LabelKey().IsMatch(key))
            {
                error = $"key: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
                return false;
            }

            var op = Peek(out _);
            if (negated || op is "" or ",")
            {
                requirement = new Requirement(key, negated ? Op.DoesNotExist : Op.Exists, new HashSet<string>());
                error = "";
                return true;
            }

            Next();
            HashSet<string> values;
            Op kind;
            long bound = 0;
            switch (op)
            {
                case "=" or "==" or "!=":
                    kind = op == "!=" ? Op.NotIn : Op.In;
                    var value = Peek(out _);
                    values = [IsIdentifier(value) ? Next() : ""];
                    break;
                case ">" or "<":
                    kind = op == ">" ? Op.GreaterThan : Op.LessThan;
                    values = [];
                    if (!long.TryParse(Next(), out bound))
                    {
                        error = "for 'Gt', 'Lt' operators, the value must be an integer";
                        return false;
                    }

                    break;
                case "in" or "notin":
                    kind = op == "in" ? Op.In : Op.NotIn;
                    if (!TrySet(out values, out error))
                    {
                        return false;
                    }

                    break;
                default:
                    error = $"found '{Shown(op)}', expected: in, notin, =, ==, !=, gt, lt";
                    return false;
            }

            if (values.FirstOrDefault(v => !LabelValue().IsMatch(v)) is { } bad)
            {
                error = $"values[0][{key}]: Invalid value: \"{bad}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
                return false;
            }

            requirement = new Requirement(key, kind, values, bound);
            error = "";
            return true;
        }

        private bool TrySet(out HashSet<string> values, out string error)
        {
            values = [];
            if (Next() != "(")
            {
                error = "found '" + Shown(Peek(out _)) + "', expected: '('";
                return false;
            }

            while (true)
            {
                var token = Peek(out _);
                values.Add(IsIdentifier(token) ? Next() : "");
                var separator = Next();
                if (separator == ")")
                {
                    break;
                }

                if (separator != ",")
                {
                    error = $"found '{Shown(separator)}', expected: ',', ')' or identifier";
                    return false;
                }
            }

            error = values.SetEquals([""]) ? "for 'in', 'notin' operators, values set can't be empty" : "";
            return error.Length == 0;
        }

        private string Peek(out int end)
        {
            var i = _at;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i == text.Length)
            {
                end = i;
                return "";
            }

            foreach (var symbol in (string[])["==", "!=", "=", "!", "(", ")", ",", ">", "<"])
            {
                if (string.CompareOrdinal(text, i, symbol, 0, symbol.Length) == 0)
                {
                    end = i + symbol.Length;
                    return symbol;
                }
            }

            var start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]) && "!=(),<>".IndexOf(text[i], StringComparison.Ordinal) < 0)
            {
                i++;
            }

            end = i;
            return text[start..i];
        }

        private static bool IsIdentifier(string token) => token.Length > 0 && "!=(),<>".IndexOf(token[0], StringComparison.Ordinal) < 0;

        private static string Shown(string token) => token.Length == 0 ? "end of string" : token;
    }
}

/// <summary>
/// A parsed <c>fieldSelector</c>, as k8s.io/apimachinery/pkg/fields parses it: comma-separated
/// <c>field=value</c>, <c>field==value</c> or <c>field!=value</c> terms, all of which must hold, with
/// <c>\</c> escaping <c>,</c>, <c>=</c> and <c>\</c> in values. A field the resource does not index
/// is refused, with the message the API server gives.
/// </summary>
internal sealed class FieldSelector
{
    private readonly List<(string Field, bool Equal, string Value)> _terms;

    private FieldSelector(List<(string Field, bool Equal, string Value)> terms) => _terms = terms;

    public static FieldSelector Everything { get; } = new([]);

    public bool IsEverything => _terms.Count == 0;

    /// <summary>Matches against the object's selectable fields (a field the object lacks reads as "").</summary>
    public bool Matches(IReadOnlyDictionary<string, string> fields) =>
        _terms.TrueForAll(t => (fields.TryGetValue(t.Field, out var value) ? value : "") == t.Value == t.Equal);

    public static bool TryParse(string? text, IReadOnlyCollection<string> supported, out FieldSelector selector, out string error)
    {
        ArgumentNullException.ThrowIfNull(supported);
        selector = Everything;
        error = "";
        var terms = new List<(string, bool, string)>();
        foreach (var term in SplitUnescaped(text ?? "", ","))
        {
            if (term.Length == 0)
            {
                continue;
            }

            var (field, op, value) = SplitTerm(term);
            if (op is null)
            {
                error = $"invalid selector: '{text}'; can't understand '{term}'";
                return false;
            }

            if (!supported.Contains(field))
            {
                error = $"field label not supported: {field}";
                return false;
            }

            terms.Add((field, op != "!=", Unescape(value)));
        }

        selector = new FieldSelector(terms);
        return true;
    }

    private static (string Field, string? Op, string Value) SplitTerm(string term)
    {
        for (var i = 0; i < term.Length; i++)
        {
            if (term[i] == '\\')
            {
                i++;
                continue;
            }

            foreach (var op in (string[])["!=", "==", "="])
            {
                if (string.CompareOrdinal(term, i, op, 0, op.Length) == 0)
                {
                    return (term[..i], op, term[(i + op.Length)..]);
                }
            }
        }

        return (term, null, "");
    }

    private static List<string> SplitUnescaped(string text, string separator)
    {
        var parts = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\')
            {
                i++;
            }
            else if (text[i] == separator[0])
            {
                parts.Add(text[start..i]);
                start = i + 1;
            }
        }

        parts.Add(text[start..]);
        return parts;
    }

    private static string Unescape(string value)
    {
        var result = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                i++;
            }

            result.Append(value[i]);
        }

        return result.ToString();
    }
}
