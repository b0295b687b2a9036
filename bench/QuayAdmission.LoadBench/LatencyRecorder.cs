using System.Diagnostics;

namespace QuayAdmission.LoadBench;

/// <summary>
/// Every latency of a run, kept whole (a few hundred thousand longs at most) and sorted once at the
/// end, so percentiles are exact ranks rather than histogram buckets. One recorder per connection
/// task, merged afterwards: no locks on the request path.
/// </summary>
internal sealed class LatencyRecorder
{
    private readonly List<long> ticks = [];

    public int Count => ticks.Count;

    public void Add(long stopwatchTicks) => ticks.Add(stopwatchTicks);

    public static LatencyRecorder Merge(IEnumerable<LatencyRecorder> parts)
    {
        var merged = new LatencyRecorder();
        foreach (var part in parts)
            merged.ticks.AddRange(part.ticks);
        return merged;
    }

    public LatencySummary Summarize()
    {
        if (ticks.Count == 0)
            return LatencySummary.Empty;
        var sorted = ticks.ToArray();
        Array.Sort(sorted);
        return new LatencySummary(sorted.Length, Rank(sorted, 0.50), Rank(sorted, 0.90), Rank(sorted, 0.99), Rank(sorted, 0.999), Milliseconds(sorted[^1]));
    }

    /// <summary>Nearest rank: the smallest value with at least <paramref name="quantile"/> of the samples at or below it.</summary>
    private static double Rank(long[] sorted, double quantile)
    {
        var index = (int)Math.Ceiling(quantile * sorted.Length) - 1;
        return Milliseconds(sorted[Math.Clamp(index, 0, sorted.Length - 1)]);
    }

    private static double Milliseconds(long stopwatchTicks) => stopwatchTicks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>Latency percentiles in milliseconds.</summary>
internal sealed record LatencySummary(int Count, double P50, double P90, double P99, double P999, double Max)
{
    public static LatencySummary Empty { get; } = new(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
}
