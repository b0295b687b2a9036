using QuayAdmission.Kubernetes;
using QuayAdmission.Scopes;

namespace QuayAdmission.PullSecrets;

/// <summary>
/// The trust boundary for what tenants wrote. A managed Secret's annotations are writable by
/// anyone who may edit Secrets in its namespace, so the key they claim passes the same rules as
/// an admission before it reaches a TokenRequest, Quay or a Secret write: names valid for API
/// paths, a configured registry, the robot grammar, AllowedRobots, and a Secret name that the key
/// itself produces (so a Secret cannot borrow another key's identity).
/// </summary>
public sealed class TenantInput(RobotPolicy policy, IReadOnlyList<string> hosts)
{
    /// <summary>The key the Secret was written for, or null with the reason it was refused.</summary>
    public PullSecretKey? TryKeyOf(ManagedSecret secret, out string? refusal)
    {
        refusal = Refusal(secret, out var key);
        return refusal is null ? key : null;
    }

    private string? Refusal(ManagedSecret secret, out PullSecretKey? key)
    {
        key = null;
        if (!KubernetesNames.IsDnsLabel(secret.Namespace))
            return "its namespace is not a valid name";
        if (secret.Registry is null || secret.Robot is null || secret.ServiceAccount is null)
            return "its annotations do not name a registry, robot account and ServiceAccount";
        if (!KubernetesNames.IsDnsSubdomain(secret.ServiceAccount))
            return "its service-account annotation is not a valid ServiceAccount name";
        var host = hosts.FirstOrDefault(h => string.Equals(h, secret.Registry, StringComparison.OrdinalIgnoreCase));
        if (host is null)
            return "its registry annotation names no configured registry";
        if (secret.Robot.Contains(',', StringComparison.Ordinal) || secret.Robot.Contains('/', StringComparison.Ordinal)
            || !RobotReferenceParser.TryParse($"{host}/{secret.Robot}", hosts, out var references, out _)
            || references is not [var reference])
            return "its robot-account annotation is not a robot name";
        if (policy.Check(secret.Namespace, references) is { } forbidden)
            return forbidden.Message;
        var claimed = new PullSecretKey(secret.Namespace, secret.ServiceAccount, reference.RegistryHost, reference.Robot);
        if (claimed.SecretName != secret.Name)
            return "its name is not the one its annotations produce";
        key = claimed;
        return null;
    }
}
