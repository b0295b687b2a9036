using QuayAdmission.Kubernetes;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Refresh;

/// <summary>
/// What the refresher keeps of a Pod the webhook injected: enough to resolve its robot references
/// as admission did and to know which managed Secrets it lists. About 200 bytes, not the Pod.
/// </summary>
public sealed record InjectedPod(
    string Namespace,
    string Name,
    string ServiceAccount,
    string? Phase,
    string? RobotAccounts,
    string? Inject,
    IReadOnlyList<string> PullSecretNames)
{
    private const string DefaultServiceAccount = "default";

    public string Id => $"{Namespace}/{Name}";

    /// <summary>A finished Pod pulls nothing again: its Secrets may be collected.</summary>
    public bool IsActive => Phase is not ("Succeeded" or "Failed");

    /// <summary>
    /// The projection, or null for a Pod whose names admission would refuse (PodFacts): its
    /// namespace and ServiceAccount become API paths and a TokenRequest when its Secret is resolved.
    /// </summary>
    public static InjectedPod? From(PodView pod)
    {
        var serviceAccount = string.IsNullOrEmpty(pod.Spec?.ServiceAccountName) ? DefaultServiceAccount : pod.Spec.ServiceAccountName;
        // "metadata": null decodes to null despite the property's type.
        if (pod.Metadata is not { } metadata || !KubernetesNames.IsDnsLabel(metadata.NamespaceProperty)
            || !KubernetesNames.IsDnsSubdomain(metadata.Name) || !KubernetesNames.IsDnsSubdomain(serviceAccount))
            return null;
        var annotations = metadata.Annotations;
        return new InjectedPod(
            metadata.NamespaceProperty,
            metadata.Name,
            serviceAccount,
            pod.Status?.Phase,
            annotations is not null && annotations.TryGetValue(WellKnown.RobotAccountAnnotation, out var robots) ? robots : null,
            annotations is not null && annotations.TryGetValue(WellKnown.InjectAnnotation, out var inject) ? inject : null,
            // Only names we could have written; a Pod's other pull Secrets are none of our business.
            (pod.Spec?.ImagePullSecrets ?? [])
                .Select(reference => reference.Name)
                .Where(name => name is not null && name.StartsWith(PullSecretKey.Prefix, StringComparison.Ordinal))
                .Distinct(StringComparer.Ordinal)
                .ToList());
    }
}
