using k8s.Models;

namespace QuayAdmission.PullSecrets;

/// <summary>
/// What the caches keep of one managed Secret: its identity, the key its annotations claim, and
/// its token's times. Never the token. The claimed key is tenant input until the trust boundary
/// (Robots/TenantInput) has checked it.
/// </summary>
public sealed record ManagedSecret(
    string Namespace,
    string Name,
    string? Uid,
    string? ResourceVersion,
    DateTimeOffset? CreatedAt,
    string? Registry,
    string? Robot,
    string? ServiceAccount,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? IssuedAt)
{
    public string Id => $"{Namespace}/{Name}";

    /// <summary>Null for an object that is not ours (the label selector already keeps most of them out).</summary>
    public static ManagedSecret? From(V1Secret secret)
    {
        var metadata = secret.Metadata;
        if (metadata?.Name is null || metadata.NamespaceProperty is null
            || metadata.Labels?.TryGetValue(WellKnown.ManagedByLabel, out var managedBy) != true || managedBy != WellKnown.ManagedByValue)
            return null;
        var annotations = metadata.Annotations;
        return new ManagedSecret(
            metadata.NamespaceProperty,
            metadata.Name,
            metadata.Uid,
            metadata.ResourceVersion,
            metadata.CreationTimestamp is { } created ? new DateTimeOffset(DateTime.SpecifyKind(created, DateTimeKind.Utc)) : null,
            Annotation(annotations, WellKnown.RegistryAnnotation),
            Annotation(annotations, WellKnown.RobotAccountAnnotation),
            Annotation(annotations, WellKnown.ServiceAccountAnnotation),
            PullSecretManifest.ExpiresAt(secret),
            PullSecretManifest.IssuedAt(secret));
    }

    private static string? Annotation(IDictionary<string, string>? annotations, string name) =>
        annotations is not null && annotations.TryGetValue(name, out var value) ? value : null;
}
