using System.Globalization;
using System.Text;

namespace QuayAdmission.CredentialProvider;

/// <summary>Text bound for stderr: one line, bounded, no control or bidi-format characters.</summary>
public static class OneLine
{
    private const int MaxLength = 1000;
    private const int MaxQuoted = 200;

    public static string Of(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new StringBuilder(Math.Min(text.Length, MaxLength));
        foreach (var c in text.Length > MaxLength ? text[..MaxLength] : text)
            builder.Append(IsUnsafe(c) ? ' ' : c);
        return text.Length > MaxLength ? builder.Append("...").ToString() : builder.ToString();
    }

    /// <summary>A value from the request, quoted for a message.</summary>
    public static string Quote(string? value)
    {
        if (value is null)
            return "(none)";
        var builder = new StringBuilder("\"");
        foreach (var c in value.Length > MaxQuoted ? value[..MaxQuoted] : value)
            builder.Append(IsUnsafe(c) ? '?' : c);
        return builder.Append(value.Length > MaxQuoted ? "...\"" : "\"").ToString();
    }

    private static bool IsUnsafe(char c) => char.IsControl(c) || char.GetUnicodeCategory(c) == UnicodeCategory.Format;
}
