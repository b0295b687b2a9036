namespace QuayAdmission.Kubernetes;

/// <summary>The timings of one Lease election, client-go's names and rule: LeaseDuration &gt; RenewDeadline &gt; RetryPeriod &gt; 0.</summary>
public sealed record LeaseElectionSettings(
    string Namespace,
    string Name,
    string Identity,
    TimeSpan LeaseDuration,
    TimeSpan RenewDeadline,
    TimeSpan RetryPeriod);
