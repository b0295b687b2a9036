using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// The little JWT handling both stand-ins need: RS256 signing, decoding without validation,
/// and checking a signature against a JWK. Deliberately no JWT package: the stand-ins must not
/// share a library (and its lenient defaults) with the code under test.
/// </summary>
public static class FakeJwt
{
    public static string SignRs256(RSA key, string keyId, JsonObject claims)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(claims);
        var header = new JsonObject { ["alg"] = "RS256", ["kid"] = keyId, ["typ"] = "JWT" };
        var signingInput = Encode(header) + "." + Encode(claims);
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>Decodes header and payload; says nothing about whether the token is genuine.</summary>
    public static bool TryParse(string? jwt, [NotNullWhen(true)] out DecodedJwt? decoded)
    {
        decoded = null;
        var parts = jwt?.Split('.');
        if (parts is not { Length: 3 })
        {
            return false;
        }

        try
        {
            if (JsonNode.Parse(Base64Url.DecodeFromChars(parts[0])) is JsonObject header
                && JsonNode.Parse(Base64Url.DecodeFromChars(parts[1])) is JsonObject payload)
            {
                decoded = new DecodedJwt(header, payload, parts[0] + "." + parts[1], Base64Url.DecodeFromChars(parts[2]));
                return true;
            }
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
        }

        return false;
    }

    public static DecodedJwt Parse(string jwt) =>
        TryParse(jwt, out var decoded) ? decoded : throw new FormatException("not a JWT (three base64url JSON parts)");

    /// <summary>True when <paramref name="jwt"/> is RS256 and its signature verifies with the RSA <paramref name="jwk"/>.</summary>
    public static bool VerifyRs256(DecodedJwt jwt, JsonObject jwk)
    {
        ArgumentNullException.ThrowIfNull(jwt);
        ArgumentNullException.ThrowIfNull(jwk);
        if (jwt.Algorithm != "RS256" || Str(jwk, "kty") != "RSA" || Str(jwk, "n") is not { } n || Str(jwk, "e") is not { } e)
        {
            return false;
        }

        try
        {
            using var rsa = RSA.Create(new RSAParameters { Modulus = Base64Url.DecodeFromChars(n), Exponent = Base64Url.DecodeFromChars(e) });
            return rsa.VerifyData(Encoding.ASCII.GetBytes(jwt.SigningInput), jwt.Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return false;
        }
    }

    public static JsonObject PublicJwk(RSA key, string keyId)
    {
        ArgumentNullException.ThrowIfNull(key);
        var p = key.ExportParameters(includePrivateParameters: false);
        return new JsonObject
        {
            ["kty"] = "RSA",
            ["alg"] = "RS256",
            ["use"] = "sig",
            ["kid"] = keyId,
            ["n"] = Base64Url.EncodeToString(p.Modulus),
            ["e"] = Base64Url.EncodeToString(p.Exponent),
        };
    }

    /// <summary>The key id the kube-apiserver uses: base64url(SHA-256(DER SubjectPublicKeyInfo)).</summary>
    public static string KeyIdOf(RSA key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Base64Url.EncodeToString(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));
    }

    private static string Encode(JsonObject json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json.ToJsonString()));

    internal static string? Str(JsonObject json, string name) =>
        json[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}

/// <summary>A JWT split into its parts, with the registered claims read out.</summary>
public sealed record DecodedJwt(JsonObject Header, JsonObject Payload, string SigningInput, byte[] Signature)
{
    public string? Algorithm => FakeJwt.Str(Header, "alg");
    public string? KeyId => FakeJwt.Str(Header, "kid");
    public string? Issuer => FakeJwt.Str(Payload, "iss");
    public string? Subject => FakeJwt.Str(Payload, "sub");
    public string? Id => FakeJwt.Str(Payload, "jti");

    /// <summary>`aud` may be a string or an array (RFC 7519 4.1.3); both read as a list.</summary>
    public IReadOnlyList<string> Audiences => Payload["aud"] switch
    {
        JsonArray a => [.. a.Select(x => x is JsonValue v && v.TryGetValue<string>(out var s) ? s : "")],
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        _ => [],
    };

    public DateTimeOffset? IssuedAt => Time("iat");
    public DateTimeOffset? NotBefore => Time("nbf");
    public DateTimeOffset? ExpiresAt => Time("exp");

    private DateTimeOffset? Time(string claim) =>
        Payload[claim] is JsonValue v && v.TryGetValue<long>(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
}
