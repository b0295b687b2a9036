using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace QuayAdmission.Kubernetes;

/// <summary>
/// The one place that decides which names may become segments of an API path: KubernetesApi refuses
/// any other. Escaping a segment would leave <c>..</c> as it is, and <see cref="Uri"/> collapses it.
/// The patterns end in <c>\z</c>, not <c>$</c>: .NET's <c>$</c> also matches before a final newline,
/// which would let <c>"kube-system\n"</c> pass as a name.
/// </summary>
public static partial class KubernetesNames
{
    private const int MaxSubdomainLength = 253;

    /// <summary>RFC 1123 label: namespaces (and the DNS-label kinds).</summary>
    public static bool IsDnsLabel([NotNullWhen(true)] string? name) => name is not null && DnsLabel().IsMatch(name);

    /// <summary>RFC 1123 subdomain: ServiceAccounts, Secrets, Pods, Leases.</summary>
    public static bool IsDnsSubdomain([NotNullWhen(true)] string? name) => name is { Length: <= MaxSubdomainLength } && DnsSubdomain().IsMatch(name);

    public static void RequireNamespace(string? ns)
    {
        if (!IsDnsLabel(ns))
            throw new InvalidApiNameException();
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\z", RegexOptions.CultureInvariant)]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex DnsSubdomain();
}

/// <summary>A name that is not a valid Kubernetes name was about to become part of an API path. The name is not repeated: it is tenant input.</summary>
public sealed class InvalidApiNameException() : Exception("refused an invalid namespace or object name before it reached an API path");
