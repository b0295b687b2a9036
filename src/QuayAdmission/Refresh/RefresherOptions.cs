using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;

namespace QuayAdmission.Refresh;

/// <summary>The refresher: which replica works (a Lease), how often, and when Secrets are renewed or collected.</summary>
public sealed class RefresherOptions
{
    public const string Section = "QuayAdmission:Refresher";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Time between resyncs, a safety net: every cached Secret is looked at again (no LIST).
    /// Renewals and collection do not wait for it; the reconciler schedules each for its time.
    /// </summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Secrets whose token expired this long ago, and that no Pod lists, are deleted.</summary>
    public TimeSpan GcAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A token written this recently is renewed even before a Pod lists it (the Pod may still be scheduling).</summary>
    public TimeSpan UnusedGrace { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Workers on the queue, so one slow exchange never holds up the rest.</summary>
    public int Concurrency { get; set; } = 4;

    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Consecutive failures of one Secret before a Warning event says so.</summary>
    public int FailuresBeforeEvent { get; set; } = 3;

    public string LeaseName { get; set; } = "quay-admission-refresher";

    /// <summary>Default: the pod's namespace (POD_NAMESPACE), else quay-admission.</summary>
    public string? LeaseNamespace { get; set; }

    /// <summary>Default: the pod's name (POD_NAME), else the host name.</summary>
    public string? Identity { get; set; }

    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long re-creating a missing Secret may wait for a ServiceAccount's or Namespace's annotations.</summary>
    public TimeSpan ScopeReadTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A leader whose work has been failing this long lets the Lease go.</summary>
    public TimeSpan StallAfter { get; set; } = TimeSpan.FromMinutes(2);

    public LeaseElectionSettings Election =>
        new(EffectiveLeaseNamespace, LeaseName, EffectiveIdentity, LeaseDuration, RenewDeadline, RetryPeriod);

    public string EffectiveLeaseNamespace =>
        LeaseNamespace ?? Environment.GetEnvironmentVariable("POD_NAMESPACE") ?? "quay-admission";

    public string EffectiveIdentity =>
        Identity ?? Environment.GetEnvironmentVariable("POD_NAME") ?? $"{Environment.MachineName}-{Environment.ProcessId}";
}

internal sealed class RefresherOptionsValidator : IValidateOptions<RefresherOptions>
{
    public ValidateOptionsResult Validate(string? name, RefresherOptions options)
    {
        var failures = new List<string>();
        if (options.Interval <= TimeSpan.Zero || options.GcAfter < TimeSpan.Zero || options.UnusedGrace < TimeSpan.Zero)
            failures.Add("QuayAdmission:Refresher Interval must be positive, GcAfter and UnusedGrace not negative");
        if (options.Concurrency < 1 || options.FailuresBeforeEvent < 1)
            failures.Add("QuayAdmission:Refresher Concurrency and FailuresBeforeEvent must be at least 1");
        if (options.BackoffBase <= TimeSpan.Zero || options.BackoffMax < options.BackoffBase)
            failures.Add("QuayAdmission:Refresher BackoffBase must be positive and at most BackoffMax");
        // client-go's rule: the holder must be able to renew before others may take the lease.
        if (!(options.LeaseDuration > options.RenewDeadline && options.RenewDeadline > options.RetryPeriod && options.RetryPeriod > TimeSpan.Zero))
            failures.Add("QuayAdmission:Refresher needs LeaseDuration > RenewDeadline > RetryPeriod > 0");
        if (options.StallAfter <= TimeSpan.Zero || options.ScopeReadTimeout <= TimeSpan.Zero)
            failures.Add("QuayAdmission:Refresher StallAfter and ScopeReadTimeout must be positive");
        if (string.IsNullOrWhiteSpace(options.LeaseName))
            failures.Add("QuayAdmission:Refresher:LeaseName must be set");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
