using System.Text;
using System.Text.RegularExpressions;

namespace QuayAdmission.Robots;

/// <summary>One entry of the robot-account annotation, resolved to a configured registry.</summary>
public sealed record RobotReference(string RegistryHost, string Robot);

/// <summary>Why an annotation was refused, with the admission status code to answer.</summary>
public sealed record ReferenceError(int Code, string Message);

public static partial class RobotReferenceParser
{
    // A pod needs a handful of registries at most; the cap keeps a hostile annotation from
    // turning one admission into thousands of exchanges.
    public const int MaxEntries = 16;

    private const int MinPartLength = 2;
    private const int MaxPartLength = 255;

    /// <summary>Parses <c>[registryHost/]org+short</c> entries of the robot-account annotation, separated by commas.</summary>
    /// <param name="allowedHosts">The configured registries; the first is the default.</param>
    public static bool TryParse(
        string annotation,
        IReadOnlyList<string> allowedHosts,
        out IReadOnlyList<RobotReference> references,
        out ReferenceError? error)
    {
        references = [];
        error = null;
        var entries = annotation.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length == 0)
        {
            error = new(400, $"annotation {WellKnown.RobotAccountAnnotation} names no robot account");
            return false;
        }
        if (entries.Length > MaxEntries)
        {
            error = new(400, $"annotation {WellKnown.RobotAccountAnnotation} names {entries.Length} robot accounts; at most {MaxEntries} are allowed");
            return false;
        }

        var parsed = new List<RobotReference>(entries.Length);
        foreach (var entry in entries)
        {
            if (!TryParseEntry(entry, allowedHosts, out var reference, out error))
                return false;
            if (!parsed.Contains(reference))
                parsed.Add(reference);
        }
        references = parsed;
        return true;
    }

    public static bool IsValidRobotName(string robot)
    {
        var plus = robot.IndexOf('+', StringComparison.Ordinal);
        return plus > 0
            && IsValidPart(robot.AsSpan(0, plus))
            && IsValidPart(robot.AsSpan(plus + 1));
    }

    private static bool TryParseEntry(
        string entry, IReadOnlyList<string> allowedHosts, out RobotReference reference, out ReferenceError? error)
    {
        reference = null!;
        error = null;
        var slash = entry.IndexOf('/', StringComparison.Ordinal);
        var robot = slash < 0 ? entry : entry[(slash + 1)..];
        string? host = allowedHosts[0];
        if (slash >= 0)
        {
            var named = entry[..slash];
            host = allowedHosts.FirstOrDefault(h => string.Equals(h, named, StringComparison.OrdinalIgnoreCase));
            if (host is null)
            {
                error = new(403, $"robot account {Quote(entry)}: registry {Quote(named)} is not allowed; allowed: {string.Join(", ", allowedHosts)}");
                return false;
            }
        }
        if (!IsValidRobotName(robot))
        {
            error = new(400, $"robot account {Quote(entry)} is not a valid Quay robot name (expected org+name, lowercase letters, digits and . _ -)");
            return false;
        }
        reference = new RobotReference(host, robot);
        return true;
    }

    private static bool IsValidPart(ReadOnlySpan<char> part) =>
        part.Length is >= MinPartLength and <= MaxPartLength && PartPattern().IsMatch(part);

    /// <summary>Quotes user input for a message: bounded, one line, no control or bidi-format characters.</summary>
    private static string Quote(string value)
    {
        const int max = 64;
        var builder = new StringBuilder("\"");
        foreach (var c in value.Length > max ? value[..max] : value)
            builder.Append(char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? '?' : c);
        return builder.Append(value.Length > max ? "...\"" : "\"").ToString();
    }

    // \z, not $: .NET's $ also matches before a final newline ("acme\n" would pass).
    [GeneratedRegex(@"^[a-z0-9]+(?:[._-][a-z0-9]+)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex PartPattern();
}
