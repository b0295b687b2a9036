using QuayAdmission.Kubernetes;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Robots;

/// <summary>
/// The trust boundary for what tenants wrote. A managed Secret's annotations are writable by
/// anyone who may edit Secrets in its namespace, so the key they claim passes the same rules as
/// an admission (<see cref="RobotKeys.Resolve"/>) before it reaches a TokenRequest, Quay or a
/// Secret write: names valid for API paths, a configured registry, the robot grammar,
/// AllowedRobots, and a Secret name that the key itself produces (so a Secret cannot borrow
/// another key's identity).
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
        // One robot name, nothing else: no list, no host of its own, no spaces the parser would trim.
        if (!RobotReferenceParser.IsValidRobotName(secret.Robot))
            return "its robot-account annotation is not a robot name";
        var resolved = RobotKeys.Resolve(secret.Namespace, secret.ServiceAccount, new RobotAnnotation($"{host}/{secret.Robot}", Origin: null), hosts, policy);
        if (resolved.Refusal is { } refused)
            return refused.Message;
        if (resolved.Keys is not [var claimed])
            return "its robot-account annotation is not a robot name";
        if (claimed.SecretName != secret.Name)
            return "its name is not the one its annotations produce";
        key = claimed;
        return null;
    }
}
