using System.Text.Json.Serialization;

namespace QuayAdmission.CredentialProvider.Protocol;

/// <summary>Source-generated JSON for the kubelet's exec protocol; a duplicate property is refused, not resolved.</summary>
[JsonSourceGenerationOptions(AllowDuplicateProperties = false)]
[JsonSerializable(typeof(CredentialProviderRequest))]
[JsonSerializable(typeof(CredentialProviderResponse))]
public sealed partial class ProtocolJson : JsonSerializerContext
{
    public const string ApiVersion = "credentialprovider.kubelet.k8s.io/v1";
}
