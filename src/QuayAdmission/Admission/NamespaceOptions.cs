using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;

namespace QuayAdmission.Admission;

/// <summary>The namespaces the webhook never acts in, whatever the webhook configuration's selector lets through.</summary>
public sealed class NamespaceOptions
{
    public const string Section = "QuayAdmission";

    /// <summary>The Deployment sets it from the downward API; the webhook never acts in its own namespace.</summary>
    public const string PodNamespaceVariable = "POD_NAMESPACE";

    /// <summary>Namespaces besides <c>kube-system</c> and the webhook's own.</summary>
    public List<string> ExcludedNamespaces { get; init; } = [];

    /// <summary>From <see cref="PodNamespaceVariable"/>, else the namespace the manifests install into; not a setting of its own.</summary>
    public string OwnNamespace { get; internal set; } = "quay-admission";

    public IEnumerable<string> All => ExcludedNamespaces.Append("kube-system").Append(OwnNamespace);
}

internal sealed class NamespaceOptionsValidator : IValidateOptions<NamespaceOptions>
{
    public ValidateOptionsResult Validate(string? name, NamespaceOptions options)
    {
        var failures = options.ExcludedNamespaces
            .Select((ns, i) => (ns, i))
            .Where(entry => !KubernetesNames.IsDnsLabel(entry.ns))
            .Select(entry => $"QuayAdmission:ExcludedNamespaces:{entry.i} '{entry.ns}' is not a namespace name")
            .ToList();
        if (!KubernetesNames.IsDnsLabel(options.OwnNamespace))
            failures.Add($"{NamespaceOptions.PodNamespaceVariable} '{options.OwnNamespace}' is not a namespace name");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
