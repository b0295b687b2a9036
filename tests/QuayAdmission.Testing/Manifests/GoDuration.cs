using System.Globalization;
using System.Text.RegularExpressions;

namespace QuayAdmission.Tests.Manifests;

/// <summary>Go's time.ParseDuration, for the units cert-manager durations use (h, m, s, ms).</summary>
public static partial class GoDuration
{
    public static TimeSpan Parse(string text)
    {
        if (!WholeDuration().IsMatch(text))
        {
            throw new FormatException($"'{text}' is not a Go duration");
        }

        var total = TimeSpan.Zero;
        foreach (Match part in Part().Matches(text))
        {
            var amount = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            total += part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                _ => TimeSpan.FromMilliseconds(amount),
            };
        }

        return total;
    }

    [GeneratedRegex(@"^(\d+(\.\d+)?(h|ms|m|s))+$")]
    private static partial Regex WholeDuration();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(h|ms|m|s)")]
    private static partial Regex Part();
}
