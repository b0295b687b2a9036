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

    public static InjectedPod? From(PodView pod)
    {
        if (pod.Metadata?.Name is null || pod.Metadata.NamespaceProperty is null)
            return null;
        var annotations = pod.Metadata.Annotations;
        return new InjectedPod(
            pod.Metadata.NamespaceProperty,
            pod.Metadata.Name,
            string.IsNullOrEmpty(pod.Spec?.ServiceAccountName) ? DefaultServiceAccount : pod.Spec.ServiceAccountName,
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
