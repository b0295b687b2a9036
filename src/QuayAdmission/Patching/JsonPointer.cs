namespace QuayAdmission.Patching;

/// <summary>RFC 6901 JSON Pointers: the one place that escapes a reference token.</summary>
public static class JsonPointer
{
    // Order matters: escaping '/' first would turn its '~1' into '~01'.
    public static string Escape(string token) => token.Replace("~", "~0").Replace("/", "~1");

    public static string Append(string parent, string token) => parent + "/" + Escape(token);
}
