using System.Buffers.Text;
using System.Text.Json;

namespace QuayAdmission.Quay;

/// <summary>A robot token from Quay and when it stops working. <see cref="ToString"/> never shows the token.</summary>
public sealed record QuayToken(string Token, DateTimeOffset ExpiresAt)
{
    /// <summary>Reads the expiry from the JWT's <c>exp</c> claim; the signature is Quay's business, not ours.</summary>
    public static QuayToken FromJwt(string jwt) => new(jwt, ReadExpiry(jwt));

    public static DateTimeOffset ReadExpiry(string jwt) =>
        ReadTimeClaim(jwt, "exp") ?? throw new TokenExchangeException("Quay returned a token without an exp claim");

    /// <summary>A NumericDate claim (<c>exp</c>, <c>iat</c>) of the JWT, or null when it has none.</summary>
    public static DateTimeOffset? ReadTimeClaim(string jwt, string claim)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
            throw new TokenExchangeException("Quay returned a token that is not a JWT");
        try
        {
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            if (claims.RootElement.ValueKind != JsonValueKind.Object
                || !claims.RootElement.TryGetProperty(claim, out var value)
                || value.ValueKind != JsonValueKind.Number
                || !value.TryGetInt64(out var seconds))
                return null;
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentOutOfRangeException)
        {
            throw new TokenExchangeException("Quay returned a token whose claims cannot be read");
        }
    }

    public override string ToString() => $"QuayToken(expires {ExpiresAt:O})";
}
