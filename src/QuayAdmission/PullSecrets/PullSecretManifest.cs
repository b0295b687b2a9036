using System.Globalization;
using System.Text.Json;
using k8s.Models;
using QuayAdmission.Quay;

namespace QuayAdmission.PullSecrets;

/// <summary>Builds and reads the managed Secret objects of the contract.</summary>
public static class PullSecretManifest
{
    /// <param name="ownerUid">The ServiceAccount's uid when known: the Secret is then owned by it, and goes with it.</param>
    public static V1Secret Build(PullSecretKey key, QuayToken? token, string? ownerUid = null) => new()
    {
        ApiVersion = "v1",
        Kind = "Secret",
        Type = WellKnown.DockerConfigJsonType,
        Metadata = new V1ObjectMeta
        {
            Name = key.SecretName,
            NamespaceProperty = key.Namespace,
            Labels = new Dictionary<string, string> { [WellKnown.ManagedByLabel] = WellKnown.ManagedByValue },
            Annotations = Annotations(key, token),
            OwnerReferences = ownerUid is null ? null : [OwnerOf(key, ownerUid)],
        },
        Data = new Dictionary<string, byte[]>
        {
            [WellKnown.DockerConfigJsonKey] = token is null
                ? DockerConfig.Empty
                : DockerConfig.For(key.RegistryHost, key.Robot, token.Token),
        },
    };

    /// <summary>
    /// The merge patch that puts <paramref name="token"/> into the stored Secret in place (kubelets
    /// remember a Secret, so it is updated, never re-created): our label, annotations and data key,
    /// and the ServiceAccount's ownerReference when missing, guarded by the stored resourceVersion.
    /// Anything else on the Secret (other writers' labels, annotations, keys, managedFields) is left
    /// as the API has it. No ownerReference is ever removed: a list in a merge patch replaces the
    /// whole list, so one is sent only to add ours to those read.
    /// </summary>
    public static V1Secret Patch(V1Secret stored, PullSecretKey key, QuayToken token, string? ownerUid = null)
    {
        var desired = Build(key, token);
        var owners = stored.Metadata.OwnerReferences;
        var addOwner = ownerUid is not null && owners?.Any(r => r.Uid == ownerUid) != true;
        return new V1Secret
        {
            Metadata = new V1ObjectMeta
            {
                ResourceVersion = stored.Metadata.ResourceVersion,
                Labels = desired.Metadata.Labels,
                Annotations = desired.Metadata.Annotations,
                // A reference to an earlier ServiceAccount of the same name stays: the garbage collector
                // drops references to owners that are gone, and deletes only when no owner is left.
                OwnerReferences = addOwner ? [.. owners ?? [], OwnerOf(key, ownerUid!)] : null,
            },
            Data = desired.Data,
        };
    }

    /// <summary>
    /// The Secret belongs to the ServiceAccount whose token it trades: deleting the ServiceAccount (or
    /// its namespace) lets the garbage collector delete it. Not a controller reference (nothing
    /// reconciles Secrets on the ServiceAccount's behalf, and a Secret may have only one controller),
    /// and it does not block the ServiceAccount's foreground deletion, which would also need
    /// permission to update ServiceAccount finalizers.
    /// </summary>
    private static V1OwnerReference OwnerOf(PullSecretKey key, string uid) => new()
    {
        ApiVersion = "v1",
        Kind = "ServiceAccount",
        Name = key.ServiceAccount,
        Uid = uid,
    };

    /// <summary>The token's expiry, or null for a placeholder or a Secret we cannot read.</summary>
    public static DateTimeOffset? ExpiresAt(V1Secret secret)
    {
        var annotations = secret.Metadata?.Annotations;
        if (annotations is null || !annotations.TryGetValue(WellKnown.ExpiresAtAnnotation, out var text))
            return null;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : null;
    }

    /// <summary>When the stored token was issued (its <c>iat</c>), or null for a placeholder or a token without one.</summary>
    public static DateTimeOffset? IssuedAt(V1Secret secret)
    {
        if (secret.Data is null || !secret.Data.TryGetValue(WellKnown.DockerConfigJsonKey, out var bytes))
            return null;
        try
        {
            using var config = JsonDocument.Parse(bytes);
            foreach (var registry in config.RootElement.GetProperty("auths").EnumerateObject())
            {
                if (registry.Value.TryGetProperty("password", out var password) && password.GetString() is { } token)
                    return QuayToken.ReadTimeClaim(token, "iat");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or TokenExchangeException)
        {
        }
        return null;
    }

    /// <summary>Reads the key a managed Secret was written for, or null when its annotations are incomplete.</summary>
    public static PullSecretKey? KeyOf(V1Secret secret)
    {
        var annotations = secret.Metadata?.Annotations;
        if (annotations is null
            || secret.Metadata?.NamespaceProperty is not { } ns
            || !annotations.TryGetValue(WellKnown.ServiceAccountAnnotation, out var serviceAccount)
            || !annotations.TryGetValue(WellKnown.RegistryAnnotation, out var registry)
            || !annotations.TryGetValue(WellKnown.RobotAccountAnnotation, out var robot))
            return null;
        return new PullSecretKey(ns, serviceAccount, registry, robot);
    }

    private static Dictionary<string, string> Annotations(PullSecretKey key, QuayToken? token)
    {
        var annotations = new Dictionary<string, string>
        {
            [WellKnown.RegistryAnnotation] = key.RegistryHost,
            [WellKnown.RobotAccountAnnotation] = key.Robot,
            [WellKnown.ServiceAccountAnnotation] = key.ServiceAccount,
        };
        if (token is not null)
            annotations[WellKnown.ExpiresAtAnnotation] = token.ExpiresAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        return annotations;
    }
}
