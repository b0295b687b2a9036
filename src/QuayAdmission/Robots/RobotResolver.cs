using Microsoft.Extensions.Options;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;

namespace QuayAdmission.Robots;

/// <summary>
/// Which robot accounts a Pod asks for: its own annotations, else its ServiceAccount's, else its
/// Namespace's; the nearest robot-account and the nearest inject annotation each win. Admission
/// and the refresher both ask here which annotation applies, and turn it into keys with
/// <see cref="RobotKeys.Resolve"/>, so they never disagree on what a Pod needs.
/// </summary>
public sealed class RobotResolver(AnnotationReader annotations, RobotPolicy policy, IOptions<QuayOptions> quayOptions)
{
    private readonly IReadOnlyList<string> hosts = quayOptions.Value.Hosts;

    /// <summary>
    /// The robot-account annotation that applies and where it came from; null when nothing applies
    /// or injection is off. <paramref name="wait"/> is asked before each read.
    /// </summary>
    public async Task<RobotAnnotation?> AnnotationAsync(
        string ns, string serviceAccount, string? podRobots, string? podInject, Func<TimeSpan> wait, CancellationToken ct)
    {
        var inject = podInject;
        var robots = podRobots;
        string? origin = null;
        if (IsOptOut(inject))
            return null;
        if (inject is null || robots is null)
        {
            var account = await annotations.ServiceAccountAsync(ns, serviceAccount, wait(), ct);
            inject ??= account.Inject;
            if (robots is null && account.RobotAccounts is { } fromAccount)
                (robots, origin) = (fromAccount, $"ServiceAccount {ns}/{serviceAccount}");
        }
        if (!IsOptOut(inject) && (inject is null || robots is null))
        {
            var space = await annotations.NamespaceAsync(ns, wait(), ct);
            inject ??= space.Inject;
            if (robots is null && space.RobotAccounts is { } fromNamespace)
                (robots, origin) = (fromNamespace, $"Namespace {ns}");
        }
        return IsOptOut(inject) || robots is null ? null : new RobotAnnotation(robots, origin);
    }

    /// <summary>The keys a Pod needs under the admission rules; empty when it needs none or its references are refused.</summary>
    public async Task<IReadOnlyList<PullSecretKey>> KeysAsync(
        string ns, string serviceAccount, string? podRobots, string? podInject, TimeSpan wait, CancellationToken ct)
    {
        var annotation = await AnnotationAsync(ns, serviceAccount, podRobots, podInject, () => wait, ct);
        return RobotKeys.Resolve(ns, serviceAccount, annotation, hosts, policy).Keys;
    }

    private static bool IsOptOut(string? inject) => string.Equals(inject, "false", StringComparison.OrdinalIgnoreCase);
}
