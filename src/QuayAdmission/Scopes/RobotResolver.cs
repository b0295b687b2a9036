using Microsoft.Extensions.Options;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;

namespace QuayAdmission.Scopes;

/// <summary>
/// Which robot accounts a Pod asks for: its own annotations, else its ServiceAccount's, else its
/// Namespace's; the nearest robot-account and the nearest inject annotation each win. Admission
/// and the refresher resolve through this one place, so they never disagree on what a Pod needs.
/// </summary>
public sealed class RobotResolver(ScopeReader scopes, RobotPolicy policy, IOptions<QuayOptions> quayOptions)
{
    private readonly IReadOnlyList<string> hosts = quayOptions.Value.Hosts;

    /// <summary>
    /// The robot-account annotation that applies and where it came from (null origin: the Pod itself).
    /// Null annotation when nothing applies or injection is off. <paramref name="wait"/> is asked before each read.
    /// </summary>
    public async Task<(string? Annotation, string? Origin)> AnnotationAsync(
        string ns, string serviceAccount, string? podRobots, string? podInject, Func<TimeSpan> wait, CancellationToken ct)
    {
        var inject = podInject;
        var robots = podRobots;
        string? origin = null;
        if (IsOptOut(inject))
            return (null, null);
        if (inject is null || robots is null)
        {
            var account = await scopes.ServiceAccountAsync(ns, serviceAccount, wait(), ct);
            inject ??= account.Inject;
            if (robots is null && account.RobotAccounts is { } fromAccount)
                (robots, origin) = (fromAccount, $"ServiceAccount {ns}/{serviceAccount}");
        }
        if (!IsOptOut(inject) && (inject is null || robots is null))
        {
            var scope = await scopes.NamespaceAsync(ns, wait(), ct);
            inject ??= scope.Inject;
            if (robots is null && scope.RobotAccounts is { } fromNamespace)
                (robots, origin) = (fromNamespace, $"Namespace {ns}");
        }
        return IsOptOut(inject) ? (null, null) : (robots, origin);
    }

    /// <summary>The keys a Pod needs under the admission rules; empty when it needs none or its references are refused.</summary>
    public async Task<IReadOnlyList<PullSecretKey>> KeysAsync(
        string ns, string serviceAccount, string? podRobots, string? podInject, TimeSpan wait, CancellationToken ct)
    {
        var (annotation, _) = await AnnotationAsync(ns, serviceAccount, podRobots, podInject, () => wait, ct);
        if (annotation is null
            || !RobotReferenceParser.TryParse(annotation, hosts, out var references, out _)
            || policy.Check(ns, references) is not null)
            return [];
        return references.Select(r => new PullSecretKey(ns, serviceAccount, r.RegistryHost, r.Robot)).ToList();
    }

    private static bool IsOptOut(string? inject) => string.Equals(inject, "false", StringComparison.OrdinalIgnoreCase);
}
