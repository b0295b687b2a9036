using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace QuayAdmission.Kubernetes;

/// <summary>
/// What the webhook reads of a Pod it did not admit just now: its metadata, ServiceAccount, pull
/// Secrets and phase. Decoding into the client's <c>V1Pod</c> instead would build every container,
/// volume and status of every Pod only to drop them, and would keep the ~150 types of a Pod in the
/// native image; unknown fields are skipped while reading.
/// </summary>
public sealed class PodView : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")]
    public string? ApiVersion { get; set; }

    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public PodViewSpec? Spec { get; set; }

    [JsonPropertyName("status")]
    public PodViewStatus? Status { get; set; }
}

public sealed class PodViewSpec
{
    [JsonPropertyName("serviceAccountName")]
    public string? ServiceAccountName { get; set; }

    [JsonPropertyName("imagePullSecrets")]
    public IList<V1LocalObjectReference>? ImagePullSecrets { get; set; }
}

public sealed class PodViewStatus
{
    [JsonPropertyName("phase")]
    public string? Phase { get; set; }
}

public sealed class PodViewList
{
    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    [JsonPropertyName("items")]
    public IList<PodView> Items { get; set; } = [];
}
