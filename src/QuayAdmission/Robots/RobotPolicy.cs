using Microsoft.Extensions.Options;

namespace QuayAdmission.Robots;

/// <summary>The operator's AllowedRobots rules. No rules: no restriction beyond Quay's own federation check.</summary>
public sealed class RobotPolicy(IOptions<RobotOptions> options)
{
    private readonly List<AllowedRobotsRule> rules = options.Value.AllowedRobots;

    /// <summary>Null when every reference is allowed in <paramref name="ns"/>, else the denial.</summary>
    public ReferenceError? Check(string ns, IEnumerable<RobotReference> references)
    {
        if (rules.Count == 0)
            return null;
        foreach (var reference in references)
        {
            var allowed = rules.Any(rule => Glob.Matches(rule.Namespaces, ns)
                && rule.Robots.Any(pattern => Glob.Matches(pattern, pattern.Contains('/', StringComparison.Ordinal)
                    ? $"{reference.RegistryHost}/{reference.Robot}"
                    : reference.Robot)));
            if (!allowed)
                return new ReferenceError(403, $"robot account {reference.Robot} is not allowed in namespace {ns} (QuayAdmission:AllowedRobots)");
        }
        return null;
    }
}

/// <summary><c>*</c> matches any run of characters; everything else matches itself (ordinal, case-insensitive).</summary>
public static class Glob
{
    public static bool Matches(string pattern, string text) => Matches(pattern.AsSpan(), text.AsSpan());

    private static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        // Iterative with one backtrack point: linear enough for names, no regex to escape.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(text[t]))
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
            p++;
        return p == pattern.Length;
    }
}
