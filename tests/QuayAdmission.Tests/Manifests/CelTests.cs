namespace QuayAdmission.Tests.Manifests;

/// <summary>The evaluator the policy tests rely on: it must fail where CEL fails, or they prove nothing.</summary>
public class CelTests
{
    private static readonly Dictionary<string, object?> Variables = new()
    {
        ["m"] = Cel.Map(("b_1", "x"), ("a_2", "y")),
        ["o"] = Cel.Map(("n", 3L)),
    };

    [Theory]
    [InlineData("m.filter(k, k.matches('^a_')).map(k, m[k] + '!')", "[y!]")]
    [InlineData("size(m) == 2 && 'a_2' in m && !('c' in m)", "True")]
    [InlineData("has(o.n) && !has(o.missing)", "True")]
    [InlineData("o.n <= 3 ? 'small' : 'big'", "small")]
    [InlineData("['a', 'b'] + ['c']", "[a,b,c]")]
    [InlineData("['a', 'b'].join(', ')", "a, b")]
    [InlineData("'x__Host'.replace('__Host', '__Audience')", "x__Audience")]
    [InlineData("false && o.missing == 1", "False")] // an error on one side is absorbed when the other decides
    [InlineData("o.missing == 1 || true", "True")]
    [InlineData("[1, 2].all(x, x > 0) && [1, 2].exists(x, x == 2)", "True")]
    public void Evaluates(string expression, string expected) =>
        Assert.Equal(expected, Show(Cel.Evaluate(expression, Variables)));

    [Theory]
    [InlineData("o.missing")]
    [InlineData("o.missing == 1 && true")]
    [InlineData("m['nope']")]
    [InlineData("o.n + 'x'")]
    [InlineData("'a'.unknownFunction()")]
    [InlineData("undeclared")]
    public void Fails_where_CEL_fails(string expression) =>
        Assert.Throws<Cel.CelException>(() => Cel.Evaluate(expression, Variables));

    [Theory]
    [InlineData("o.n * 2")]
    [InlineData("o.n ==")]
    [InlineData("'unterminated")]
    public void Refuses_what_it_cannot_read(string expression) =>
        Assert.Throws<FormatException>(() => Cel.Parse(expression));

    private static string Show(object? value) => value is List<object?> list ? $"[{string.Join(",", list.Select(Show))}]" : $"{value}";
}
