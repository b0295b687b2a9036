using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace QuayAdmission.Tests.Manifests;

/// <summary>
/// A small evaluator for the CEL the manifests use, so the tests run the policies' real expressions
/// (there is no CEL engine for .NET that follows the spec on maps). It knows exactly: literals
/// (int, string, bool, null, lists), field selection, indexing, <c>! &amp;&amp; || ?: == != &lt; &lt;= &gt; &gt;= in +</c>,
/// the macros <c>has all exists filter map</c>, <c>size</c>, and the string functions <c>matches
/// startsWith replace join</c>. Semantics follow the CEL spec where the manifests depend on them:
/// selecting a missing field is an error, <c>&amp;&amp;</c> and <c>||</c> absorb an error when the
/// other side decides, macros over a map range over its keys. Anything else is a parse error, so an
/// expression this evaluator cannot read fails the test instead of passing it.
/// Values: null, bool, long, string, <see cref="List{T}"/> and <see cref="Dictionary{TKey,TValue}"/> (string keys).
/// </summary>
internal static class Cel
{
    public static object? Evaluate(string expression, IReadOnlyDictionary<string, object?> variables) =>
        Parse(expression).Evaluate(new Scope(variables));

    public static Node Parse(string expression) => new Parser(expression).ParseAll();

    /// <summary>A JSON tree (a Kubernetes object as the API server sees it) as CEL values.</summary>
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(p => p.Key, p => FromJson(p.Value)),
        JsonArray a => a.Select(FromJson).ToList(),
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw new NotSupportedException($"no CEL value for {node.ToJsonString()}"),
    };

    public static Dictionary<string, object?> Map(params (string Key, object? Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value);

    public sealed class CelException(string message) : Exception(message);

    public sealed class Scope(IReadOnlyDictionary<string, object?> variables, Scope? parent = null)
    {
        public object? Lookup(string name) =>
            variables.TryGetValue(name, out var value) ? value
            : parent is not null ? parent.Lookup(name)
            : throw new CelException($"undeclared reference to '{name}'");

        public Scope With(string name, object? value) => new(new Dictionary<string, object?> { [name] = value }, this);
    }

    public abstract record Node
    {
        public abstract object? Evaluate(Scope scope);
    }

    private sealed record Literal(object? Value) : Node
    {
        public override object? Evaluate(Scope scope) => Value;
    }

    private sealed record ListLiteral(IReadOnlyList<Node> Items) : Node
    {
        public override object? Evaluate(Scope scope) => Items.Select(i => i.Evaluate(scope)).ToList();
    }

    private sealed record Identifier(string Name) : Node
    {
        public override object? Evaluate(Scope scope) => scope.Lookup(Name);
    }

    private sealed record Select(Node Target, string Field) : Node
    {
        public override object? Evaluate(Scope scope) => Target.Evaluate(scope) switch
        {
            // Lazy: a policy's variables, each evaluated when first read, as the API server does.
            Dictionary<string, object?> map when map.TryGetValue(Field, out var value) => value is Lazy<object?> lazy ? lazy.Value : value,
            Dictionary<string, object?> => throw new CelException($"no such key: {Field}"),
            var other => throw new CelException($"cannot select '{Field}' from {Describe(other)}"),
        };
    }

    private sealed record Has(Node Target, string Field) : Node
    {
        public override object? Evaluate(Scope scope) => Target.Evaluate(scope) switch
        {
            Dictionary<string, object?> map => map.ContainsKey(Field),
            var other => throw new CelException($"has() on {Describe(other)}"),
        };
    }

    private sealed record Index(Node Target, Node Key) : Node
    {
        public override object? Evaluate(Scope scope) => (Target.Evaluate(scope), Key.Evaluate(scope)) switch
        {
            (Dictionary<string, object?> map, string key) => map.TryGetValue(key, out var value) ? value : throw new CelException($"no such key: {key}"),
            (List<object?> list, long i) when i >= 0 && i < list.Count => list[(int)i],
            (List<object?>, long i) => throw new CelException($"index {i} out of range"),
            var (t, k) => throw new CelException($"cannot index {Describe(t)} with {Describe(k)}"),
        };
    }

    private sealed record Not(Node Operand) : Node
    {
        public override object? Evaluate(Scope scope) => !Bool(Operand.Evaluate(scope));
    }

    private sealed record Conditional(Node Condition, Node Then, Node Else) : Node
    {
        public override object? Evaluate(Scope scope) => Bool(Condition.Evaluate(scope)) ? Then.Evaluate(scope) : Else.Evaluate(scope);
    }

    /// <summary><c>&amp;&amp;</c> and <c>||</c>: a side that decides wins even when the other is an error (CEL's commutative logic).</summary>
    private sealed record Logical(bool IsAnd, Node Left, Node Right) : Node
    {
        public override object? Evaluate(Scope scope)
        {
            var decisive = !IsAnd;
            CelException? leftError = null;
            try
            {
                if (Bool(Left.Evaluate(scope)) == decisive)
                    return decisive;
            }
            catch (CelException e)
            {
                leftError = e;
            }
            var right = Bool(Right.Evaluate(scope));
            if (right == decisive)
                return decisive;
            return leftError is null ? right : throw leftError;
        }
    }

    private sealed record Binary(string Operator, Node Left, Node Right) : Node
    {
        public override object? Evaluate(Scope scope)
        {
            var (l, r) = (Left.Evaluate(scope), Right.Evaluate(scope));
            return (Operator, l, r) switch
            {
                ("==", _, _) => Equal(l, r),
                ("!=", _, _) => !Equal(l, r),
                ("<", long a, long b) => a < b,
                ("<=", long a, long b) => a <= b,
                (">", long a, long b) => a > b,
                (">=", long a, long b) => a >= b,
                ("+", long a, long b) => a + b,
                ("+", string a, string b) => a + b,
                ("+", List<object?> a, List<object?> b) => a.Concat(b).ToList(),
                ("in", _, List<object?> list) => list.Any(item => Equal(item, l)),
                ("in", string key, Dictionary<string, object?> map) => map.ContainsKey(key),
                _ => throw new CelException($"no such overload: {Describe(l)} {Operator} {Describe(r)}"),
            };
        }
    }

    private sealed record Call(Node? Target, string Function, IReadOnlyList<Node> Arguments) : Node
    {
        public override object? Evaluate(Scope scope)
        {
            var target = Target?.Evaluate(scope);
            var args = Arguments.Select(a => a.Evaluate(scope)).ToList();
            return (Function, target, args) switch
            {
                ("size", null, [string s]) => (long)s.Length,
                ("size", null, [List<object?> l]) => (long)l.Count,
                ("size", null, [Dictionary<string, object?> m]) => (long)m.Count,
                ("size", List<object?> l, []) => (long)l.Count,
                ("matches", string s, [string re]) => Regex.IsMatch(s, re, RegexOptions.CultureInvariant),
                ("startsWith", string s, [string prefix]) => s.StartsWith(prefix, StringComparison.Ordinal),
                ("replace", string s, [string from, string to]) => s.Replace(from, to, StringComparison.Ordinal),
                ("join", List<object?> l, [string separator]) => string.Join(separator, l.Select(item => item as string ?? throw new CelException("join of a non-string"))),
                _ => throw new CelException($"no such overload: {Describe(target)}.{Function}({string.Join(", ", args.Select(Describe))})"),
            };
        }
    }

    private sealed record Macro(Node Target, string Name, string Variable, Node Body) : Node
    {
        public override object? Evaluate(Scope scope)
        {
            IEnumerable<object?> range = Target.Evaluate(scope) switch
            {
                List<object?> list => list,
                Dictionary<string, object?> map => map.Keys,
                var other => throw new CelException($"{Name}() over {Describe(other)}"),
            };
            object? Apply(object? item) => Body.Evaluate(scope.With(Variable, item));
            return Name switch
            {
                "all" => range.All(item => Bool(Apply(item))),
                "exists" => range.Any(item => Bool(Apply(item))),
                "filter" => range.Where(item => Bool(Apply(item))).ToList(),
                "map" => range.Select(Apply).ToList(),
                _ => throw new CelException($"unknown macro {Name}"),
            };
        }
    }

    private static bool Bool(object? value) => value as bool? ?? throw new CelException($"expected a bool, got {Describe(value)}");

    private static bool Equal(object? a, object? b) => (a, b) switch
    {
        (List<object?> x, List<object?> y) => x.Count == y.Count && x.Zip(y).All(p => Equal(p.First, p.Second)),
        (null, null) => true,
        _ => Equals(a, b),
    };

    private static string Describe(object? value) => value switch
    {
        null => "null",
        string => "string",
        long => "int",
        bool => "bool",
        List<object?> => "list",
        Dictionary<string, object?> => "map",
        _ => value.GetType().Name,
    };

    private sealed class Parser(string text)
    {
        private static readonly string[] Symbols = ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "?", ":", "+", ".", ",", "(", ")", "[", "]"];
        private static readonly string[] MacroNames = ["all", "exists", "filter", "map"];
        private int position;

        public Node ParseAll()
        {
            var node = ParseExpression();
            SkipSpace();
            return position == text.Length ? node : throw Error("unexpected text");
        }

        private Node ParseExpression()
        {
            var condition = ParseOr();
            if (!TryTake("?"))
                return condition;
            var then = ParseOr();
            Expect(":");
            return new Conditional(condition, then, ParseExpression());
        }

        private Node ParseOr()
        {
            var left = ParseAnd();
            while (TryTake("||"))
                left = new Logical(false, left, ParseAnd());
            return left;
        }

        private Node ParseAnd()
        {
            var left = ParseRelation();
            while (TryTake("&&"))
                left = new Logical(true, left, ParseRelation());
            return left;
        }

        private Node ParseRelation()
        {
            var left = ParseAddition();
            while (true)
            {
                var op = new[] { "==", "!=", "<=", ">=", "<", ">" }.FirstOrDefault(TryTake) ?? (TryTakeWord("in") ? "in" : null);
                if (op is null)
                    return left;
                left = new Binary(op, left, ParseAddition());
            }
        }

        private Node ParseAddition()
        {
            var left = ParseUnary();
            while (TryTake("+"))
                left = new Binary("+", left, ParseUnary());
            return left;
        }

        private Node ParseUnary() => TryTake("!") ? new Not(ParseUnary()) : ParseMember();

        private Node ParseMember()
        {
            var node = ParsePrimary();
            while (true)
            {
                if (TryTake("."))
                {
                    var name = TakeIdentifier();
                    if (!TryTake("("))
                    {
                        node = new Select(node, name);
                        continue;
                    }
                    if (MacroNames.Contains(name))
                    {
                        var variable = TakeIdentifier();
                        Expect(",");
                        var body = ParseExpression();
                        Expect(")");
                        node = new Macro(node, name, variable, body);
                    }
                    else
                    {
                        node = new Call(node, name, ParseArguments());
                    }
                }
                else if (TryTake("["))
                {
                    var key = ParseExpression();
                    Expect("]");
                    node = new Index(node, key);
                }
                else
                {
                    return node;
                }
            }
        }

        private Node ParsePrimary()
        {
            SkipSpace();
            if (TryTake("("))
            {
                var inner = ParseExpression();
                Expect(")");
                return inner;
            }
            if (TryTake("["))
            {
                var items = new List<Node>();
                if (!TryTake("]"))
                {
                    do
                        items.Add(ParseExpression());
                    while (TryTake(","));
                    Expect("]");
                }
                return new ListLiteral(items);
            }
            if (position < text.Length && text[position] is '\'' or '"')
                return new Literal(TakeString());
            if (position < text.Length && char.IsAsciiDigit(text[position]))
            {
                var start = position;
                while (position < text.Length && char.IsAsciiDigit(text[position]))
                    position++;
                return new Literal(long.Parse(text[start..position], CultureInfo.InvariantCulture));
            }
            var name = TakeIdentifier();
            switch (name)
            {
                case "true":
                    return new Literal(true);
                case "false":
                    return new Literal(false);
                case "null":
                    return new Literal(null);
                case "has":
                    Expect("(");
                    var field = ParseMember();
                    Expect(")");
                    return field is Select select ? new Has(select.Target, select.Field) : throw Error("has() needs a field selection");
                case "size":
                    Expect("(");
                    return new Call(null, "size", ParseArguments());
                default:
                    return new Identifier(name);
            }
        }

        /// <summary>After the opening parenthesis: arguments up to the closing one.</summary>
        private List<Node> ParseArguments()
        {
            var args = new List<Node>();
            if (TryTake(")"))
                return args;
            do
                args.Add(ParseExpression());
            while (TryTake(","));
            Expect(")");
            return args;
        }

        private string TakeString()
        {
            var quote = text[position++];
            var value = new StringBuilder();
            while (position < text.Length && text[position] != quote)
            {
                var c = text[position++];
                if (c == '\\')
                {
                    var escaped = text[position++];
                    value.Append(escaped switch { 'n' => '\n', 't' => '\t', '\\' or '\'' or '"' => escaped, _ => throw Error($"escape \\{escaped}") });
                }
                else
                {
                    value.Append(c);
                }
            }
            if (position++ >= text.Length)
                throw Error("unterminated string");
            return value.ToString();
        }

        private string TakeIdentifier()
        {
            SkipSpace();
            var start = position;
            while (position < text.Length && (char.IsAsciiLetterOrDigit(text[position]) || text[position] == '_'))
                position++;
            return position > start && !char.IsAsciiDigit(text[start]) ? text[start..position] : throw Error("expected a name");
        }

        private bool TryTakeWord(string word)
        {
            SkipSpace();
            var end = position + word.Length;
            if (end > text.Length || string.CompareOrdinal(text, position, word, 0, word.Length) != 0
                || (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_')))
                return false;
            position = end;
            return true;
        }

        private bool TryTake(string symbol)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, position, symbol, 0, symbol.Length) != 0)
                return false;
            // "<" must not take the first character of "<=", nor "|" anything else.
            var longer = Symbols.FirstOrDefault(s => s.Length > symbol.Length && s.StartsWith(symbol, StringComparison.Ordinal)
                && string.CompareOrdinal(text, position, s, 0, s.Length) == 0);
            if (longer is not null)
                return false;
            position += symbol.Length;
            return true;
        }

        private void Expect(string symbol)
        {
            if (!TryTake(symbol))
                throw Error($"expected '{symbol}'");
        }

        private void SkipSpace()
        {
            while (position < text.Length && char.IsWhiteSpace(text[position]))
                position++;
        }

        private FormatException Error(string what) => new($"CEL: {what} at {position} in: {text}");
    }
}
