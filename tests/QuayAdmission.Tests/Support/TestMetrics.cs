using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using QuayAdmission.Observability;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// The webhook's instruments on a meter factory of their own, as the host builds them, so a test
/// reads only what its own code recorded.
/// </summary>
public sealed class TestMetrics : IDisposable
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public TestMetrics() => Metrics = new QuayMetrics(Factory);

    public IMeterFactory Factory => services.GetRequiredService<IMeterFactory>();

    public QuayMetrics Metrics { get; }

    /// <summary>Collects <paramref name="instrument"/> (e.g. <c>quay_admission.background_errors</c>) from here on.</summary>
    public MetricCollector<T> Collect<T>(string instrument)
        where T : struct => new(Factory, QuayMetrics.MeterName, instrument);

    public void Dispose() => services.Dispose();
}
