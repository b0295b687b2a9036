namespace QuayAdmission.Tests.Support;

/// <summary>
/// Tests that read process-wide state: /metrics sees every meter named QuayAdmission in the process,
/// so these run after the parallel tests, one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTests
{
    public const string Name = "Serial";
}
