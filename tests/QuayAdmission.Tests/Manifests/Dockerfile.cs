using System.Text.RegularExpressions;

namespace QuayAdmission.Tests.Manifests;

/// <summary>The instructions of a Dockerfile, by stage. Enough for ours: no heredocs, no escapes but \.</summary>
internal sealed partial record Dockerfile(IReadOnlyList<IReadOnlyList<(string Instruction, string Arguments)>> Stages)
{
    public static Dockerfile Parse(string text)
    {
        var stages = new List<List<(string, string)>>();
        var joined = text.Replace("\\\n", " ", StringComparison.Ordinal);
        foreach (var line in joined.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var match = Instruction().Match(line);
            var (instruction, arguments) = (match.Groups[1].Value.ToUpperInvariant(), match.Groups[2].Value.Trim());
            if (instruction == "FROM")
            {
                stages.Add([]);
            }

            if (stages.Count > 0)
            {
                stages[^1].Add((instruction, arguments));
            }
        }

        return new Dockerfile(stages);
    }

    public IReadOnlyList<(string Instruction, string Arguments)> Build => Stages[0];

    public IReadOnlyList<(string Instruction, string Arguments)> Runtime => Stages[^1];

    /// <summary>The default of <c>ARG name="value"</c> in the build stage.</summary>
    public string Arg(string name) =>
        Build.Where(i => i.Instruction == "ARG" && i.Arguments.StartsWith(name + "=", StringComparison.Ordinal))
            .Select(i => i.Arguments[(name.Length + 1)..].Trim('"'))
            .Single();

    [GeneratedRegex(@"^(\w+)\s*(.*)$")]
    private static partial Regex Instruction();
}
