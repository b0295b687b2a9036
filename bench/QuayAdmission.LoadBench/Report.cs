using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace QuayAdmission.LoadBench;

/// <summary>What the report says about where and how it was made.</summary>
internal sealed record RunContext(
    string Command, string SdkVersion, string Commit, string LoadAverageAtStart, string LoadAverageAtEnd, string? MicroReport, string? ScaleReport, string? Notes, TimeSpan Elapsed);

/// <summary>
/// docs/benchmarks.md: the machine, the targets, the tables with each build beside the other, a
/// reading computed from the numbers (so it cannot go stale when the numbers change), and how each
/// number is measured.
/// </summary>
internal static class Report
{
    // The targets of issue 11, for the Native AOT build (the JIT build is shown beside it).
    private const double ThroughputTarget = 0.80;
    private const double P99TargetRatio = 1.5;
    private const long RssTargetBytes = 64L * 1024 * 1024;
    private const long ManyKeysRssTargetBytes = 96L * 1024 * 1024;
    private const double StartupTargetMs = 150;
    private const string TargetBuild = "native";

    public static string Write(BenchResults r, RunContext context, IReadOnlyList<string> failures)
    {
        var s = r.Settings;
        var builds = r.Builds;
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Written by `{context.Command}` (bench/run.sh) on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC at commit `{context.Commit}`; the whole run took {context.Elapsed.TotalSeconds:0} s. Run it again to refresh this page: every number below comes from that run. Builds measured: {string.Join(" and ", builds.Select(Describe))}, each against a floor built the same way.");
        md.AppendLine();
        if (failures.Count > 0)
        {
            md.AppendLine("**This run FAILED its correctness checks; its numbers are not to be trusted:**");
            md.AppendLine();
            foreach (var failure in failures)
                md.AppendLine("- " + failure);
            md.AppendLine();
        }

        md.AppendLine("## Machine");
        md.AppendLine();
        md.AppendLine("| | |");
        md.AppendLine("|---|---|");
        md.AppendLine(CultureInfo.InvariantCulture, $"| cores (`nproc`) | {Environment.ProcessorCount} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| CPU | {CpuModel()} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| memory | {MemoryTotal()} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| OS | {OsName()}, Linux {KernelRelease()} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| .NET | {RuntimeInformation.FrameworkDescription}, SDK {context.SdkVersion} |");
        foreach (var b in builds)
            md.AppendLine(CultureInfo.InvariantCulture, $"| GC, {b.Name} webhook | {b.WebhookGc} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| load average (1 min) at start / end | {context.LoadAverageAtStart} / {context.LoadAverageAtEnd} |");
        if (r.ExtraEnvironment.Count > 0)
            md.AppendLine(CultureInfo.InvariantCulture, $"| extra webhook environment | {string.Join(", ", r.ExtraEnvironment.Select(e => $"`{e.Key}={e.Value}`"))} |");
        md.AppendLine();

        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"The targets are the Native AOT build's; the JIT build is measured the same way for comparison.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| target | {string.Join(" | ", builds.Select(b => b.Name))} | {TargetBuild} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"|---|{string.Concat(builds.Select(_ => "---|"))}---|");
        foreach (var connections in s.Connections)
            TargetRow(md, builds, $"warm throughput at least {ThroughputTarget:P0} of the floor, {connections} connections", b => Ratio(b, connections), v => v.ToString("P0", CultureInfo.InvariantCulture), v => v >= ThroughputTarget);
        foreach (var connections in s.Connections)
            TargetRow(md, builds, $"p99 at {s.Rate} req/s at most {P99TargetRatio:0.0}× the floor's, {connections} connections", b => P99Ratio(b, connections), v => $"{v:0.00}×", v => v <= P99TargetRatio);
        TargetRow(md, builds, $"peak RSS over the warm and cold runs at most {Mib(RssTargetBytes)}", b => b.PeakRssAfterRuns, v => Mib((long)v), v => v <= RssTargetBytes);
        TargetRow(md, builds, $"peak RSS with {s.ManyKeys:N0} keys cached at most {Mib(ManyKeysRssTargetBytes)}", b => b.ManyKeys?.PeakBytes ?? double.NaN, v => Mib((long)v), v => v <= ManyKeysRssTargetBytes);
        TargetRow(md, builds, $"process start to `/readyz` at most {StartupTargetMs:0} ms (median of {s.StartupRuns})", StartupMedian, Ms, v => v <= StartupTargetMs);
        md.AppendLine();

        md.AppendLine(CultureInfo.InvariantCulture, $"## Warm path (token cached, {builds.FirstOrDefault()?.ReviewBytes:N0}-byte review of a ReplicaSet-made Pod, answer with a patch adding the Secret name and the injected label)");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| build | server | connections | saturation req/s | server CPU per request | p50 / p99 at saturation | at {s.Rate} req/s: p50 / p99 / p99.9 / max from schedule | service time p99 |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var b in builds)
        {
            foreach (var connections in s.Connections)
            {
                foreach (var server in new[] { "webhook", "floor" })
                {
                    if (Warm(b, server, connections) is not { } w)
                        continue;
                    md.AppendLine(CultureInfo.InvariantCulture,
                        $"| {b.Name} | {server} | {connections} | {w.Saturation.RequestsPerSecond:N0} | {w.Saturation.CpuMicrosecondsPerRequest:N0} µs | {Ms(w.Saturation.Latency.P50)} / {Ms(w.Saturation.Latency.P99)} | {Ms(w.Rate.FromScheduled.P50)} / {Ms(w.Rate.FromScheduled.P99)} / {Ms(w.Rate.FromScheduled.P999)} / {Ms(w.Rate.FromScheduled.Max)} | {Ms(w.Rate.Service.P99)} |");
                }
                md.AppendLine(CultureInfo.InvariantCulture, $"| {b.Name} | **webhook / floor** | {connections} | **{Ratio(b, connections):P0}** | {CpuRatio(b, connections):0.00}× | | p99 {P99Ratio(b, connections):0.00}× | |");
            }
        }
        md.AppendLine();
        foreach (var b in builds)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"{b.Name}: Kubernetes API calls and Quay exchanges during the warm runs: {b.WarmApiCalls} and {b.WarmExchanges}. Pacer lateness p99 at {s.Rate} req/s: {string.Join(", ", b.Warm.Select(w => $"{w.Server}/{w.Connections} {Ms(w.Rate.PacerLag.P99)}"))}.");
            md.AppendLine();
        }

        md.AppendLine("## Cold path (token not cached, no Secret yet)");
        md.AppendLine();
        md.AppendLine("| build | admissions | keys | connections | Quay exchanges | TokenRequests | Secrets created | wall time | p50 / p99 / max from burst start | service time p99 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var b in builds)
        {
            if (b.Cold is not { } cold)
                continue;
            var burst = cold.Burst;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {b.Name} | {burst.Requests} | {cold.Keys} | {burst.Connections} | {cold.Exchanges} | {cold.TokenRequests} | {cold.SecretsCreated} | {Ms(burst.Wall.TotalMilliseconds)} | {Ms(burst.FromStart.P50)} / {Ms(burst.FromStart.P99)} / {Ms(burst.FromStart.Max)} | {Ms(burst.Service.P99)} |");
        }
        md.AppendLine();

        md.AppendLine("## Memory, startup, allocation");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| measurement | {string.Join(" | ", builds.Select(b => b.Name))} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"|---|{string.Concat(builds.Select(_ => "---|"))}");
        Row(md, builds, "peak RSS (VmHWM) after the warm runs", b => Mib(b.PeakRssAfterWarm));
        Row(md, builds, "peak RSS after the cold burst", b => Mib(b.PeakRssAfterRuns));
        Row(md, builds, "floor's peak RSS after its warm runs", b => Mib(b.FloorPeakRss));
        Row(md, builds, $"{s.ManyKeys:N0} keys cached: RSS / peak RSS", b => b.ManyKeys is { } many ? $"{Mib(many.ResidentBytes)} / {Mib(many.PeakBytes)}" : "n/a");
        Row(md, builds, $"{s.ManyKeys:N0} keys: exchanges, time, admission p99", b => b.ManyKeys is { } many
            ? string.Create(CultureInfo.InvariantCulture, $"{many.Exchanges:N0} in {many.Run.Wall.TotalSeconds:0.0} s ({many.Run.Completed / many.Run.Wall.TotalSeconds:N0}/s over {many.Run.Connections} connections), p99 {Ms(many.Run.Service.P99)}")
            : "n/a");
        Row(md, builds, "process start to `/readyz` 200", b => b.Startups.Count == 0 ? "n/a"
            : string.Create(CultureInfo.InvariantCulture, $"median {Ms(StartupMedian(b))} of {b.Startups.Count} (min {Ms(b.Startups.Min(t => t.TotalMilliseconds))}, max {Ms(b.Startups.Max(t => t.TotalMilliseconds))})"));
        Row(md, builds, "first admissions at once on the just-ready process (one new key)", b => b.StartupBurst is not { } first ? "n/a"
            : first.Errors == 0
                ? string.Create(CultureInfo.InvariantCulture, $"{first.Requests} answered, the last after {Ms(first.FromStart.Max)}; {b.StartupBurstExchanges} exchange(s)")
                : string.Create(CultureInfo.InvariantCulture, $"**{first.Errors} of {first.Requests} failed or unanswered**"));
        md.AppendLine();
        if (r.WebhookAllocation is { } wa && r.FloorAllocation is { } fa)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"Allocated per warm request (the same code in both builds, counted on the JIT): webhook {wa.PerRequest:N0} B ({wa.Requests:N0} requests; idle {wa.IdleBytesPerSecond:N0} B/s), floor {fa.PerRequest:N0} B ({fa.Requests:N0} requests; idle {fa.IdleBytesPerSecond:N0} B/s).");
            md.AppendLine();
        }

        if (context.ScaleReport is { Length: > 0 } scale)
        {
            md.AppendLine(scale.Trim());
            md.AppendLine();
        }

        md.AppendLine("## Micro-benchmarks (BenchmarkDotNet)");
        md.AppendLine();
        md.AppendLine(context.MicroReport is { Length: > 0 } micro ? micro.Trim() : "(not run)");
        md.AppendLine();

        md.AppendLine("## Reading");
        md.AppendLine();
        foreach (var line in Reading(r, context))
            md.AppendLine("- " + line);
        md.AppendLine();
        if (context.Notes is { Length: > 0 } notes)
        {
            md.AppendLine("## Notes from profiling (hand-written in bench/notes.md, not regenerated)");
            md.AppendLine();
            md.AppendLine(notes.Trim());
            md.AppendLine();
        }
        md.Append(Method(s));
        return md.ToString();
    }

    private static IEnumerable<string> Reading(BenchResults r, RunContext context)
    {
        var s = r.Settings;
        foreach (var b in r.Builds)
        {
            foreach (var connections in s.Connections)
            {
                if (Warm(b, "webhook", connections) is not { } w || Warm(b, "floor", connections) is not { } f)
                    continue;
                var ratio = Ratio(b, connections);
                yield return string.Create(CultureInfo.InvariantCulture,
                    $"{b.Name}, {connections} connections: the webhook serves {w.Saturation.RequestsPerSecond:N0} warm admissions/s, {ratio:P0} of the {f.Saturation.RequestsPerSecond:N0}/s of its floor (a bare Kestrel endpoint built the same way that only parses the review). " +
                    $"Per request it costs the server {w.Saturation.CpuMicrosecondsPerRequest:N0} µs of CPU against the floor's {f.Saturation.CpuMicrosecondsPerRequest:N0} µs ({CpuRatio(b, connections):0.00}×), a comparison the rest of the machine disturbs less than throughput. " +
                    $"At {s.Rate} req/s its p99 is {Ms(w.Rate.FromScheduled.P99)} against the floor's {Ms(f.Rate.FromScheduled.P99)} ({P99Ratio(b, connections):0.00}×).");
            }
            if (b.ManyKeys is { } many)
            {
                yield return string.Create(CultureInfo.InvariantCulture,
                    $"{b.Name} memory: the webhook peaks at {Mib(b.PeakRssAfterWarm)} in the warm runs (its floor at {Mib(b.FloorPeakRss)}), {Mib(b.PeakRssAfterRuns)} after the cold burst and {Mib(many.PeakBytes)} after caching {many.Exchanges:N0} keys, so the keys themselves cost {Mib(Math.Max(0, many.PeakBytes - b.PeakRssAfterRuns))} of peak; it starts and is ready in {Ms(StartupMedian(b))} (median).");
            }
            if (b.Cold is { } cold)
            {
                yield return string.Create(CultureInfo.InvariantCulture,
                    $"{b.Name} cold path: {cold.Burst.Requests} admissions arriving together for {cold.Keys} new keys made {cold.Exchanges} Quay exchanges and {cold.TokenRequests} TokenRequests ({(cold.Exchanges == cold.Keys ? "one per key: single flight holds" : "NOT one per key")}), all answered within {cold.Burst.Wall.TotalSeconds:0.00} s.");
            }
            if (b.StartupBurst is { Errors: > 0 } burst)
                yield return string.Create(CultureInfo.InvariantCulture, $"{b.Name}: a fresh process failed or left unanswered {burst.Errors} of its first {burst.Requests} simultaneous admissions (within 25 s) although `/readyz` said it was ready.");
        }
        if (r.WebhookAllocation is { } wa && r.FloorAllocation is { } fa)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"A warm admission allocates {wa.PerRequest:N0} B against the floor's {fa.PerRequest:N0} B: about {wa.PerRequest - fa.PerRequest:N0} B per request are the webhook's own; the micro-benchmarks' Allocated column for DecodeDecideEncode shows how much of it the decode, the decision and the encode account for.");
        }
        yield return "The load generator runs on the same two cores as the server under test, so absolute rates are lower than the server alone would reach. The webhook/floor ratios are fair: both face the same generator, the same TLS and the same connection count, one right after the other.";
        if (double.TryParse(context.LoadAverageAtStart, CultureInfo.InvariantCulture, out var load) && load > 0.5)
            yield return string.Create(CultureInfo.InvariantCulture, $"The machine was not idle when the run started (load average {context.LoadAverageAtStart}); expect noise, and compare ratios rather than absolute numbers.");
    }

    private static void TargetRow(StringBuilder md, IReadOnlyList<BuildResults> builds, string target, Func<BuildResults, double> measure, Func<double, string> format, Func<double, bool> met)
    {
        var measured = builds.Select(b => measure(b)).ToList();
        var verdict = builds.Zip(measured).Where(x => x.First.Name == TargetBuild).Select(x => double.IsNaN(x.Second) ? "n/a" : Verdict(met(x.Second))).FirstOrDefault() ?? "not run";
        md.AppendLine(CultureInfo.InvariantCulture, $"| {target} | {string.Join(" | ", measured.Select(v => double.IsNaN(v) ? "n/a" : format(v)))} | {verdict} |");
    }

    private static void Row(StringBuilder md, IReadOnlyList<BuildResults> builds, string measurement, Func<BuildResults, string> value) =>
        md.AppendLine(CultureInfo.InvariantCulture, $"| {measurement} | {string.Join(" | ", builds.Select(value))} |");

    private static string Describe(BuildResults b) => b.Name == TargetBuild ? "Native AOT" : b.Name;

    private static string Method(BenchSettings s) => string.Create(CultureInfo.InvariantCulture, $"""
        ## Method

        - **Command**: `make bench`, which runs `bench/run.sh`: the Native AOT publishes of the webhook and the floor (`make publish-native publish-floor`, skipped when up to date), a Release build of `bench/bench.slnf`, the micro-benchmarks in short mode, then `bench/QuayAdmission.LoadBench` (`run` mode). Everything listens on 127.0.0.1 only, and the script's trap stops every process it started.
        - **Builds**: *JIT* is `dotnet src/QuayAdmission/bin/Release/net10.0/QuayAdmission.dll` against `dotnet QuayAdmission.Floor.dll`; *native* is the executable `make publish-native` makes (the Dockerfile's publish) against the floor published the same way (`artifacts/native/floor`). Each build gets fresh stand-ins and runs every scenario against its own floor.
        - **Set-up**: the Kubernetes API and Quay stand-ins of `tests/QuayAdmission.Testing/Fakes` run inside the load generator; the webhook (configured by environment as in a pod, default logging to a file as a container runtime would collect it) and the floor run as child processes. The floor (`bench/QuayAdmission.Floor`, same Kestrel set-up and runtime settings) answers a canned review of the same size after parsing the request into a small record.
        - **Load**: an in-repo HTTP/1.1 client over TLS 1.3 (ALPN `http/1.1`), one keep-alive connection per simulated apiserver connection, requests prebuilt and every answer checked (status 200, uid echoed, allowed, a JSON patch, no warnings); any failure fails the run. Before any clock runs, each server gets {s.ServerWarmup.TotalSeconds:0.#} s at saturation, uncounted, so tiered compilation has settled. *Saturation*: each connection sends its next request as soon as the answer arrives, {s.SaturationWarmup.TotalSeconds:0.#} s of warm-up then {s.SaturationMeasure.TotalSeconds:0.#} s counted; "server CPU per request" is the server process's user+system time from `/proc/<pid>/stat` over the counted window divided by the requests answered in it. *Fixed rate*: a pacer thread schedules {s.Rate} requests/s ({s.RateWarmup.TotalSeconds:0.#} s warm-up, {s.RateMeasure.TotalSeconds:0.#} s counted) and hands each to a free connection; latency is measured from the scheduled time, so a stall is charged to every request behind it (no coordinated omission); "service time" is from the actual write. Percentiles are exact ranks over all recorded latencies.
        - **Cold path**: {s.ColdAdmissions} reviews for {s.ColdKeys} ServiceAccounts (each trusted at the Quay stand-in), interleaved so every key is asked for again while its first exchange is in flight, all queued at once and sent over {s.ColdConnections} connections (opened beforehand); "from burst start" includes the wait for a free connection, "service time" does not. Exchanges, TokenRequests and Secret writes are the stand-ins' counters.
        - **Keys**: {s.ManyKeys:N0} reviews for {s.ManyKeys:N0} distinct ServiceAccounts over {s.ManyKeysConnections} connections, then VmRSS and VmHWM from `/proc/<pid>/status` of the webhook process.
        - **Allocation**: `GC.GetTotalAllocatedBytes(precise: true)` read before and after {s.AllocationRequests:N0} warm requests ({s.AllocationConnections} connections, opened and warmed with {s.AllocationWarmup:N0} requests first) through the real HTTPS stack, on the JIT build (the code allocates the same either way). The webhook is hosted for this in the load generator's `host` mode, which is `src/QuayAdmission/Program.cs` line for line plus a `GET /bench/allocated` endpoint, because the separate process exposes no allocation counter; the floor exposes the same endpoint.
        - **Startup**: {s.StartupRuns} starts of the webhook process per build; the time from just before `Process.Start` to the first 200 from `/readyz` (polled every 5 ms), and its median. On the last start, {s.StartupBurst} admissions for one new key are sent at once as soon as it is ready (connections opened first); they must all be answered, with a warning at worst, within 25 s.
        - **Refresher at scale**: its own section says how; `bench/run.sh` runs it (`scale` mode, on the JIT build) before the load runs, and `run --scale` includes the section it writes.
        - **Micro-benchmarks**: `bench/QuayAdmission.Benchmarks`. `make bench` runs them in-process with BenchmarkDotNet's short job and `DOTNET_GCgen0size=0x800000` (a fixed 8 MiB gen0, so a benchmark that allocates reuses warm memory instead of depending on the GC's gen0 budget); for full runs: `DOTNET_GCgen0size=0x800000 dotnet run -c Release --project bench/QuayAdmission.Benchmarks -- --filter '*'`. Review decode and encode use a source-generated context declared in the benchmark project exactly like src's internal `AdmissionJsonContext`.
        - **Quick check of the bench itself** (numbers meaningless): `bench/run.sh --quick`.

        """);

    private static WarmResult? Warm(BuildResults b, string server, int connections) =>
        b.Warm.FirstOrDefault(w => w.Server == server && w.Connections == connections);

    private static double Ratio(BuildResults b, int connections) =>
        Warm(b, "webhook", connections) is { } w && Warm(b, "floor", connections) is { } f && f.Saturation.RequestsPerSecond > 0
            ? w.Saturation.RequestsPerSecond / f.Saturation.RequestsPerSecond
            : double.NaN;

    private static double CpuRatio(BuildResults b, int connections) =>
        Warm(b, "webhook", connections) is { } w && Warm(b, "floor", connections) is { } f
            ? w.Saturation.CpuMicrosecondsPerRequest / f.Saturation.CpuMicrosecondsPerRequest
            : double.NaN;

    private static double P99Ratio(BuildResults b, int connections) =>
        Warm(b, "webhook", connections) is { } w && Warm(b, "floor", connections) is { } f
            ? w.Rate.FromScheduled.P99 / f.Rate.FromScheduled.P99
            : double.NaN;

    private static double StartupMedian(BuildResults b)
    {
        if (b.Startups.Count == 0)
            return double.NaN;
        var sorted = b.Startups.Select(t => t.TotalMilliseconds).Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static string Verdict(bool met) => met ? "met" : "**missed**";

    private static string Ms(double milliseconds) =>
        double.IsNaN(milliseconds) ? "n/a" : milliseconds.ToString(milliseconds < 100 ? "0.00" : "N0", CultureInfo.InvariantCulture) + " ms";

    private static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB");

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";

    private static string MemoryTotal()
    {
        var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        if (line is null)
            return "unknown";
        var kib = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture, $"{kib / (1024.0 * 1024):0.0} GiB");
    }

    private static string OsName() =>
        File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"') ?? "Linux"
            : "Linux";

    private static string KernelRelease() =>
        File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "unknown";

    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
