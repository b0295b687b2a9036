using System.Text.Json;
using System.Text.Json.Serialization;

namespace QuayAdmission.CredentialProvider.Protocol;

/// <summary>
/// What the kubelet writes on stdin (credentialprovider.kubelet.k8s.io/v1): the image being pulled and,
/// with tokenAttributes configured, a token of the Pod's ServiceAccount and that ServiceAccount's annotations.
/// </summary>
public sealed record CredentialProviderRequest
{
    // The kubelet sends a few hundred bytes plus the annotations it was told to pass.
    public const int MaxBytes = 1024 * 1024;

    [JsonPropertyName("apiVersion")]
    public string? ApiVersion { get; init; }

    [JsonPropertyName("kind")]
    public string? Kind { get; init; }

    [JsonPropertyName("image")]
    public string? Image { get; init; }

    [JsonPropertyName("serviceAccountToken")]
    public string? ServiceAccountToken { get; init; }

    [JsonPropertyName("serviceAccountAnnotations")]
    public Dictionary<string, string>? ServiceAccountAnnotations { get; init; }

    /// <summary>Reads and checks one request; every problem is a <see cref="CredentialProviderException"/> naming it.</summary>
    public static CredentialProviderRequest Read(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var buffer = new byte[MaxBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = input.Read(buffer, length, buffer.Length - length)) > 0)
            length += read;
        if (length > MaxBytes)
            throw new CredentialProviderException($"the request on stdin is larger than {MaxBytes} bytes");
        if (length == 0)
            throw new CredentialProviderException("no request on stdin");

        CredentialProviderRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(buffer.AsSpan(0, length), ProtocolJson.Default.CredentialProviderRequest);
        }
        catch (JsonException e)
        {
            // The position only: the reader's message may quote the input, and the input holds a token.
            throw new CredentialProviderException(
                $"the request on stdin is not a CredentialProviderRequest JSON document (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})");
        }
        return request?.Checked() ?? throw new CredentialProviderException("the request on stdin is null");
    }

    private CredentialProviderRequest Checked()
    {
        if (ApiVersion != ProtocolJson.ApiVersion)
            throw new CredentialProviderException($"the request's apiVersion {OneLine.Quote(ApiVersion)} is not {ProtocolJson.ApiVersion}");
        if (Kind != "CredentialProviderRequest")
            throw new CredentialProviderException($"the request's kind {OneLine.Quote(Kind)} is not CredentialProviderRequest");
        if (string.IsNullOrWhiteSpace(Image))
            throw new CredentialProviderException("the request names no image");
        if (string.IsNullOrEmpty(ServiceAccountToken))
            throw new CredentialProviderException(
                "the request carries no serviceAccountToken: the kubelet's CredentialProviderConfig must set tokenAttributes.serviceAccountTokenAudience");
        return this;
    }
}
