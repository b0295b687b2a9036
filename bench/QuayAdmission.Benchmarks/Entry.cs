using BenchmarkDotNet.Running;

namespace QuayAdmission.Benchmarks;

internal static class Entry
{
    /// <summary>
    /// BenchmarkDotNet's command line: e.g. <c>--filter '*'</c>, <c>--job short</c>, <c>--inProcess</c>.
    /// Exits 1 when a benchmark failed or did not validate, which BenchmarkDotNet alone would not report.
    /// </summary>
    public static int Main(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Entry).Assembly).Run(args).ToList();
        var failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
        return failed ? 1 : 0;
    }
}
