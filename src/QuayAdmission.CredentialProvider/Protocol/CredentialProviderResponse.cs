using System.Text.Json.Serialization;

namespace QuayAdmission.CredentialProvider.Protocol;

/// <summary>What the plugin writes on stdout: credentials per registry key and how long the kubelet may keep them.</summary>
public sealed record CredentialProviderResponse
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; init; } = ProtocolJson.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; init; } = "CredentialProviderResponse";

    /// <summary>Registry: the robot token is good for every image on that registry, not just this one.</summary>
    [JsonPropertyName("cacheKeyType")]
    public string CacheKeyType { get; init; } = "Registry";

    /// <summary>A Go duration; "0s" tells the kubelet not to cache (an absent one would mean its default).</summary>
    [JsonPropertyName("cacheDuration")]
    public string CacheDuration { get; init; } = "0s";

    /// <summary>Keyed by registry host, in the kubelet's matchImages syntax; empty when there is nothing to offer.</summary>
    [JsonPropertyName("auth")]
    public Dictionary<string, AuthConfig> Auth { get; init; } = [];
}

public sealed record AuthConfig(
    [property: JsonPropertyName("username")] string Username,
    [property: JsonPropertyName("password")] string Password);
