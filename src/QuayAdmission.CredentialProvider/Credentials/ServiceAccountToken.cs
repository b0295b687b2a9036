using System.Buffers.Text;
using System.Text.Json;

namespace QuayAdmission.CredentialProvider.Credentials;

/// <summary>The kubelet's token for the Pod's ServiceAccount, read (not verified: that is Quay's job) for its audience.</summary>
public static class ServiceAccountToken
{
    /// <summary>The <c>aud</c> claim, a string or a list (RFC 7519 4.1.3).</summary>
    public static IReadOnlyList<string> Audiences(string jwt)
    {
        ArgumentNullException.ThrowIfNull(jwt);
        var parts = jwt.Split('.');
        if (parts.Length != 3)
            throw new CredentialProviderException("the request's serviceAccountToken is not a JWT");
        try
        {
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            if (claims.RootElement.ValueKind != JsonValueKind.Object || !claims.RootElement.TryGetProperty("aud", out var aud))
                return [];
            return aud.ValueKind switch
            {
                JsonValueKind.String => [aud.GetString()!],
                JsonValueKind.Array => [.. aud.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!)],
                _ => [],
            };
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            throw new CredentialProviderException("the request's serviceAccountToken is not a JWT");
        }
    }
}
