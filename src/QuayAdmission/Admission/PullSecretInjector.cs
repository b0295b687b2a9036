using Microsoft.Extensions.Options;
using QuayAdmission.Patching;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;

namespace QuayAdmission.Admission;

/// <summary>
/// The decision for one review: which pull Secrets a Pod needs, making sure they hold tokens
/// (unless dry run), and the patch that lists them. All I/O is behind <see cref="PullSecretProvisioner"/>.
/// </summary>
public sealed class PullSecretInjector(
    PullSecretProvisioner provisioner,
    IOptions<QuayOptions> quayOptions,
    IOptions<TokenOptions> tokenOptions,
    TimeProvider time,
    ILogger<PullSecretInjector> logger)
{
    // Kubernetes shows warnings to people in kubectl output; longer ones get cut or wrapped.
    private const int MaxWarningLength = 119;

    private readonly IReadOnlyList<string> hosts = quayOptions.Value.Hosts;
    private readonly TokenOptions tokens = tokenOptions.Value;

    public async Task<AdmissionOutcome> DecideAsync(AdmissionRequest request, CancellationToken ct)
    {
        if (!IsPodCreate(request))
            return new AdmissionOutcome.Allowed();

        var started = time.GetTimestamp();
        PodFacts pod;
        try
        {
            pod = PodFacts.Read(request);
        }
        catch (PodShapeException e)
        {
            AdmissionLog.Malformed(logger, request.Uid!, e.Message);
            return new AdmissionOutcome.Denied(400, e.Message);
        }

        var (outcome, robots) = await DecideForPodAsync(pod, request.DryRun == true, ct);
        var elapsedMs = time.GetElapsedTime(started).TotalMilliseconds;
        var outcomeName = Describe(outcome);
        AdmissionLog.Decided(logger, request.Uid!, pod.Namespace, pod.DisplayName, robots, outcomeName, request.DryRun == true, elapsedMs);
        return outcome;
    }

    private async Task<(AdmissionOutcome Outcome, string Robots)> DecideForPodAsync(PodFacts pod, bool dryRun, CancellationToken ct)
    {
        if (pod.IsMirror || string.Equals(pod.Inject, "false", StringComparison.OrdinalIgnoreCase) || pod.RobotAccounts is null)
            return (new AdmissionOutcome.Allowed(), "-");

        if (!RobotReferenceParser.TryParse(pod.RobotAccounts, hosts, out var references, out var error))
            return (new AdmissionOutcome.Denied(error!.Code, error.Message), "-");

        var keys = references.Select(r => new PullSecretKey(pod.Namespace, pod.ServiceAccount, r.RegistryHost, r.Robot)).ToList();
        var robots = string.Join(",", references.Select(r => r.Robot));

        var warnings = new List<string>();
        if (!dryRun)
        {
            // Dry run must leave no trace: no TokenRequest, no exchange, no write. The name is deterministic, so the patch is the same.
            var statuses = await Task.WhenAll(keys.Select(k => provisioner.EnsureAsync(k, tokens.InlineBudget, ct)));
            foreach (var (key, status) in keys.Zip(statuses))
            {
                if (status is not TokenStatus.Unavailable failure)
                    continue;
                if (tokens.OnTokenFailure == TokenFailurePolicy.Deny)
                    return (new AdmissionOutcome.Denied(failure.Refused ? 403 : 503, $"no Quay token for {key.Robot}: {failure.Reason}"), robots);
                warnings.Add(Warning(key, failure.Reason));
            }
        }

        var operations = ImagePullSecretsPatch.Build(pod.Json, keys.Select(k => k.SecretName));
        return (new AdmissionOutcome.Patched(operations, warnings), robots);
    }

    private static bool IsPodCreate(AdmissionRequest request) =>
        request.Kind is { Group: "" or null, Kind: "Pod" }
        && request.Operation == "CREATE"
        && string.IsNullOrEmpty(request.SubResource);

    private static string Warning(PullSecretKey key, string reason)
    {
        var warning = $"quay-admission: no token yet for {key.Robot} ({reason})";
        return warning.Length <= MaxWarningLength ? warning : warning[..(MaxWarningLength - 4)] + "...)";
    }

    private static string Describe(AdmissionOutcome outcome) => outcome switch
    {
        AdmissionOutcome.Patched { Operations.Count: > 0, Warnings.Count: > 0 } => "patched-degraded",
        AdmissionOutcome.Patched { Operations.Count: > 0 } => "patched",
        AdmissionOutcome.Denied => "denied",
        _ => "allowed",
    };
}
