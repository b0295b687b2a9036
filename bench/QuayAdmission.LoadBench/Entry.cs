using System.Diagnostics;
using System.Runtime.InteropServices;

namespace QuayAdmission.LoadBench;

/// <summary>
/// <c>run</c>: the benchmark (bench/run.sh passes the options); <c>scale</c>: the refresher scale
/// scenario, whose section <c>run</c> includes; <c>soak</c>: a profiling aid; <c>host</c>: the
/// webhook hosted in this process, for the allocation count, started by <c>run</c> as a child
/// process. The floor is its own program, bench/QuayAdmission.Floor.
/// </summary>
internal static class Entry
{
    private const string Usage = """
        usage: QuayAdmission.LoadBench run --out <dir> --doc <benchmarks.md>
                 [--webhook <QuayAdmission.dll> --floor <QuayAdmission.Floor.dll>]          (the JIT build)
                 [--native-webhook <QuayAdmission> --native-floor <QuayAdmission.Floor>]    (the Native AOT build)
                 [--micro <report.md>] [--scale <section.md>] [--notes <notes.md>] [--command <text>] [--sdk <version>] [--commit <sha>] [--quick]
                 [--webhook-env NAME=VALUE]...   (extra environment for the webhook, e.g. to try a GC setting;
                                                  DOTNET_ ones go to the floor too)
               QuayAdmission.LoadBench scale --webhook <QuayAdmission.dll> --out <dir> --section <section.md> [--quick] [--webhook-env NAME=VALUE]...
                 (the refresher at scale; writes the section `run --scale` includes)
               QuayAdmission.LoadBench soak --webhook <QuayAdmission.dll or QuayAdmission> --out <dir> [--seconds 30] [--connections 16] [--webhook-env NAME=VALUE]...
                 (the webhook alone at saturation, its pid printed first, for dotnet-trace, dotnet-counters or perf)
               QuayAdmission.LoadBench host    (configured as the webhook)
        """;

    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "host":
                await InProcessWebhook.RunAsync();
                return 0;
            case "run":
                return await RunAsync(Options(args.Skip(1).ToList(), out var extraEnvironment), extraEnvironment);
            case "scale":
                return await ScaleAsync(Options(args.Skip(1).ToList(), out var scaleEnvironment), scaleEnvironment);
            case "soak":
                return await SoakAsync(Options(args.Skip(1).ToList(), out var soakEnvironment), soakEnvironment);
            default:
                await Console.Error.WriteLineAsync(Usage);
                return 2;
        }
    }

    private static async Task<int> RunAsync(Dictionary<string, string> options, Dictionary<string, string> extraEnvironment)
    {
        if (!options.TryGetValue("out", out var output) || !options.TryGetValue("doc", out var doc))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        var builds = new List<Build>();
        foreach (var (name, webhookOption, floorOption) in new[] { ("JIT", "webhook", "floor"), ("native", "native-webhook", "native-floor") })
        {
            if (!options.TryGetValue(webhookOption, out var webhook) || !options.TryGetValue(floorOption, out var floor))
                continue;
            var missing = new[] { webhook, floor }.FirstOrDefault(path => !File.Exists(path));
            if (missing is not null)
            {
                await Console.Error.WriteLineAsync($"not built: {Path.GetFullPath(missing)}");
                return 2;
            }
            builds.Add(new Build(name, Path.GetFullPath(webhook), Path.GetFullPath(floor)));
        }
        if (builds.Count == 0)
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        // SIGTERM or Ctrl-C (bench/run.sh's trap): cancel, so every child process is stopped on the way out.
        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);

        var clock = Stopwatch.StartNew();
        var loadAtStart = Report.LoadAverage();
        var settings = options.ContainsKey("quick") ? BenchSettings.Quick : new BenchSettings();
        var run = new BenchRun(settings, builds, Path.GetFullPath(output), extraEnvironment);
        BenchResults results;
        try
        {
            results = await run.RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            BenchRun.Progress("stopped");
            return 130;
        }

        var micro = options.TryGetValue("micro", out var microFile) && File.Exists(microFile) ? await File.ReadAllTextAsync(microFile) : null;
        var notes = options.TryGetValue("notes", out var notesFile) && File.Exists(notesFile) ? await File.ReadAllTextAsync(notesFile) : null;
        var scale = options.TryGetValue("scale", out var scaleFile) && File.Exists(scaleFile) ? await File.ReadAllTextAsync(scaleFile) : null;
        var context = new RunContext(
            options.GetValueOrDefault("command", "make bench"),
            options.GetValueOrDefault("sdk", "unknown"),
            options.GetValueOrDefault("commit", "unknown"),
            loadAtStart,
            Report.LoadAverage(),
            micro,
            scale,
            notes,
            clock.Elapsed + TimeSpan.FromSeconds(double.Parse(options.GetValueOrDefault("elapsed-before", "0"), System.Globalization.CultureInfo.InvariantCulture)));
        var markdown = Report.Write(results, context, run.Failures);
        await File.WriteAllTextAsync(Path.Combine(output, "benchmarks.md"), markdown);
        Console.Write(markdown);
        if (run.Failures.Count > 0)
        {
            BenchRun.Progress($"{run.Failures.Count} correctness check(s) failed; {doc} left as it was");
            return 1;
        }
        await File.WriteAllTextAsync(doc, markdown);
        BenchRun.Progress($"wrote {doc}");
        return 0;

        void Cancel(PosixSignalContext signal)
        {
            signal.Cancel = true;
            stop.Cancel();
        }
    }

    private static async Task<int> ScaleAsync(Dictionary<string, string> options, Dictionary<string, string> extraEnvironment)
    {
        if (!options.TryGetValue("webhook", out var webhook) || !options.TryGetValue("out", out var output) || !options.TryGetValue("section", out var section))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        var settings = options.ContainsKey("quick") ? ScaleSettings.Quick : new ScaleSettings();
        var scale = new RefresherScale(settings, Path.GetFullPath(webhook), Path.GetFullPath(output), extraEnvironment);
        ScaleResults results;
        try
        {
            results = await scale.RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            BenchRun.Progress("stopped");
            return 130;
        }

        var markdown = ScaleReport.Write(results, scale.Failures);
        await File.WriteAllTextAsync(section, markdown);
        Console.Write(markdown);
        if (scale.Failures.Count > 0)
        {
            BenchRun.Progress($"{scale.Failures.Count} check(s) of the scale scenario failed");
            return 1;
        }
        return 0;

        void Cancel(PosixSignalContext signal)
        {
            signal.Cancel = true;
            stop.Cancel();
        }
    }

    private static async Task<int> SoakAsync(Dictionary<string, string> options, Dictionary<string, string> extraEnvironment)
    {
        if (!options.TryGetValue("webhook", out var webhook) || !options.TryGetValue("out", out var output))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        // Bounded: at most ten minutes of load.
        var seconds = Math.Clamp(int.Parse(options.GetValueOrDefault("seconds", "30"), System.Globalization.CultureInfo.InvariantCulture), 1, 600);
        var connections = Math.Clamp(int.Parse(options.GetValueOrDefault("connections", "16"), System.Globalization.CultureInfo.InvariantCulture), 1, 1000);
        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        var run = new BenchRun(new BenchSettings(), [new Build("soak", Path.GetFullPath(webhook), "")], Path.GetFullPath(output), extraEnvironment);
        try
        {
            await run.SoakAsync(TimeSpan.FromSeconds(seconds), connections, stop.Token);
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 130;
        }

        void Cancel(PosixSignalContext signal)
        {
            signal.Cancel = true;
            stop.Cancel();
        }
    }

    /// <summary><c>--name value</c> pairs; a flag without a value maps to ""; <c>--webhook-env</c> may repeat.</summary>
    private static Dictionary<string, string> Options(List<string> args, out Dictionary<string, string> webhookEnvironment)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        webhookEnvironment = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
                continue;
            var hasValue = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            var (name, value) = (args[i][2..], hasValue ? args[++i] : "");
            if (name == "webhook-env" && value.Split('=', 2) is [var key, var setting])
                webhookEnvironment[key] = setting;
            else
                options[name] = value;
        }
        return options;
    }
}
