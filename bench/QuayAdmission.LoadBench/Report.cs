using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace QuayAdmission.LoadBench;

/// <summary>What the report says about where and how it was made.</summary>
internal sealed record RunContext(
    string Command, string SdkVersion, string Commit, string LoadAverageAtStart, string LoadAverageAtEnd, string? MicroReport, string? ScaleReport, string? Notes, TimeSpan Elapsed);

/// <summary>
/// docs/benchmarks.md: the machine, the targets, the tables, a reading computed from the numbers
/// (so it cannot go stale when the numbers change), and how each number is measured.
/// </summary>
internal static class Report
{
    // The targets of issue 5.
    private const double ThroughputTarget = 0.80;
    private const double P99TargetMs = 5.0;
    private const long RssTargetBytes = 150L * 1024 * 1024;

    public static string Write(BenchResults r, RunContext context, IReadOnlyList<string> failures)
    {
        var s = r.Settings;
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Written by `{context.Command}` (bench/run.sh) on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC at commit `{context.Commit}`; the whole run took {context.Elapsed.TotalSeconds:0} s. Run it again to refresh this page: every number below comes from that run.");
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
        md.AppendLine(CultureInfo.InvariantCulture, $"| .NET | {RuntimeInformation.FrameworkDescription}, SDK {context.SdkVersion}; the webhook runs with {r.WebhookGc} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| load average (1 min) at start / end | {context.LoadAverageAtStart} / {context.LoadAverageAtEnd} |");
        if (r.ExtraEnvironment.Count > 0)
            md.AppendLine(CultureInfo.InvariantCulture, $"| extra webhook environment | {string.Join(", ", r.ExtraEnvironment.Select(e => $"`{e.Key}={e.Value}`"))} |");
        md.AppendLine();

        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | measured | |");
        md.AppendLine("|---|---|---|");
        var ratios = s.Connections.Select(c => (Connections: c, Ratio: Ratio(r, c))).ToList();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| warm throughput at least {ThroughputTarget:P0} of the floor | {string.Join("; ", ratios.Select(x => $"{x.Connections} connections: {x.Ratio:P0}"))} | {Verdict(ratios.All(x => x.Ratio >= ThroughputTarget))} |");
        var p99s = s.Connections.Select(c => (Connections: c, P99: Warm(r, "webhook", c)?.Rate.FromScheduled.P99 ?? double.NaN)).ToList();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| warm p99 at most {P99TargetMs:0} ms at {s.Rate} req/s | {string.Join("; ", p99s.Select(x => $"{x.Connections} connections: {x.P99:0.00} ms"))} | {Verdict(p99s.All(x => x.P99 <= P99TargetMs))} |");
        var peak = Math.Max(r.PeakRssAfterRuns, r.ManyKeys?.PeakBytes ?? 0);
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| peak RSS at most {Mib(RssTargetBytes)} | {Mib(r.PeakRssAfterWarm)} after the warm runs; {Mib(r.PeakRssAfterRuns)} after the cold burst; {Mib(r.ManyKeys?.PeakBytes ?? 0)} with {s.ManyKeys:N0} keys cached | {Verdict(peak <= RssTargetBytes)} |");
        md.AppendLine();

        md.AppendLine(CultureInfo.InvariantCulture, $"## Warm path (token cached, {r.ReviewBytes:N0}-byte review of a ReplicaSet-made Pod, answer with a patch adding the Secret name and the injected label)");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| server | connections | saturation req/s | server CPU per request | p50 / p99 at saturation | at {s.Rate} req/s: p50 / p99 / p99.9 / max from schedule | service time p99 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var connections in s.Connections)
        {
            foreach (var server in new[] { "webhook", "floor" })
            {
                if (Warm(r, server, connections) is not { } w)
                    continue;
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {server} | {connections} | {w.Saturation.RequestsPerSecond:N0} | {w.Saturation.CpuMicrosecondsPerRequest:N0} µs | {Ms(w.Saturation.Latency.P50)} / {Ms(w.Saturation.Latency.P99)} | {Ms(w.Rate.FromScheduled.P50)} / {Ms(w.Rate.FromScheduled.P99)} / {Ms(w.Rate.FromScheduled.P999)} / {Ms(w.Rate.FromScheduled.Max)} | {Ms(w.Rate.Service.P99)} |");
            }
            md.AppendLine(CultureInfo.InvariantCulture, $"| **webhook / floor** | {connections} | **{Ratio(r, connections):P0}** | {CpuRatio(r, connections):0.00}× | | | |");
        }
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"Kubernetes API calls and Quay exchanges during the warm runs: {r.WarmApiCalls} and {r.WarmExchanges}. Pacer lateness p99 at {s.Rate} req/s: {string.Join(", ", r.Warm.Select(w => $"{w.Server}/{w.Connections} {Ms(w.Rate.PacerLag.P99)}"))}.");
        md.AppendLine();

        if (r.Cold is { } cold)
        {
            md.AppendLine("## Cold path (token not cached, no Secret yet)");
            md.AppendLine();
            md.AppendLine("| admissions | keys | connections | Quay exchanges | TokenRequests | Secrets created | wall time | p50 / p99 / max from burst start | service time p99 |");
            md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            var b = cold.Burst;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {b.Requests} | {cold.Keys} | {b.Connections} | {cold.Exchanges} | {cold.TokenRequests} | {cold.SecretsCreated} | {Ms(b.Wall.TotalMilliseconds)} | {Ms(b.FromStart.P50)} / {Ms(b.FromStart.P99)} / {Ms(b.FromStart.Max)} | {Ms(b.Service.P99)} |");
            md.AppendLine();
        }

        md.AppendLine("## Memory, allocation, startup");
        md.AppendLine();
        md.AppendLine("| measurement | value |");
        md.AppendLine("|---|---|");
        if (r.WebhookAllocation is { } wa && r.FloorAllocation is { } fa)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| allocated per warm request, webhook | {wa.PerRequest:N0} B ({wa.Requests:N0} requests; idle: {wa.IdleBytesPerSecond:N0} B/s) |");
            md.AppendLine(CultureInfo.InvariantCulture, $"| allocated per request, floor | {fa.PerRequest:N0} B ({fa.Requests:N0} requests; idle: {fa.IdleBytesPerSecond:N0} B/s) |");
        }
        md.AppendLine(CultureInfo.InvariantCulture, $"| peak RSS (VmHWM) after the warm runs / after the cold burst | {Mib(r.PeakRssAfterWarm)} / {Mib(r.PeakRssAfterRuns)} (floor after its warm runs: {Mib(r.FloorPeakRss)}) |");
        if (r.ManyKeys is { } many)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.ManyKeys:N0} keys cached: RSS / peak RSS | {Mib(many.ResidentBytes)} / {Mib(many.PeakBytes)} ({many.Exchanges:N0} exchanges in {many.Run.Wall.TotalSeconds:0.0} s, {many.Run.Completed / many.Run.Wall.TotalSeconds:N0}/s over {many.Run.Connections} connections; admission p99 {Ms(many.Run.Service.P99)}) |");
        }
        if (r.Startups.Count > 0)
        {
            var sorted = r.Startups.Select(t => t.TotalMilliseconds).Order().ToList();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| process start to `/readyz` 200 | median {Ms(sorted[sorted.Count / 2])} of {sorted.Count} starts (min {Ms(sorted[0])}, max {Ms(sorted[^1])}) |");
        }
        if (r.StartupBurst is { } first)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| first {first.Requests} admissions at once on the just-ready process (one new key) | {(first.Errors == 0 ? $"all answered, the last after {Ms(first.FromStart.Max)} (p50 {Ms(first.FromStart.P50)})" : $"**{first.Errors} failed or unanswered within 25 s** ({first.Completed} answered)")}; {r.StartupBurstExchanges} exchange(s) by then |");
        }
        md.AppendLine();

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
        foreach (var connections in s.Connections)
        {
            if (Warm(r, "webhook", connections) is not { } w || Warm(r, "floor", connections) is not { } f)
                continue;
            var ratio = Ratio(r, connections);
            yield return string.Create(CultureInfo.InvariantCulture,
                $"With {connections} connections the webhook serves {w.Saturation.RequestsPerSecond:N0} warm admissions/s, {ratio:P0} of the {f.Saturation.RequestsPerSecond:N0}/s of a bare Kestrel endpoint that only parses the review: the target of {ThroughputTarget:P0} is {(ratio >= ThroughputTarget ? "met" : "missed")}. " +
                $"Per request it costs the server {w.Saturation.CpuMicrosecondsPerRequest:N0} µs of CPU against the floor's {f.Saturation.CpuMicrosecondsPerRequest:N0} µs ({CpuRatio(r, connections):0.00}×), a comparison the rest of the machine disturbs less than throughput. " +
                $"At {s.Rate} req/s its p99 is {Ms(w.Rate.FromScheduled.P99)} (floor {Ms(f.Rate.FromScheduled.P99)}), {(w.Rate.FromScheduled.P99 <= P99TargetMs ? "within" : "over")} the {P99TargetMs:0} ms target.");
        }
        if (r.WebhookAllocation is { } wa && r.FloorAllocation is { } fa)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"A warm admission allocates {wa.PerRequest:N0} B against the floor's {fa.PerRequest:N0} B: about {wa.PerRequest - fa.PerRequest:N0} B per request are the webhook's own; the micro-benchmarks' Allocated column for DecodeDecideEncode shows how much of it the decode, the decision and the encode account for.");
        }
        if (r.Cold is { } cold)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{cold.Burst.Requests} admissions arriving together for {cold.Keys} new keys made {cold.Exchanges} Quay exchanges and {cold.TokenRequests} TokenRequests ({(cold.Exchanges == cold.Keys ? "one per key: single flight holds" : "NOT one per key")}); all were answered with a token ready within {cold.Burst.Wall.TotalSeconds:0.00} s.");
        }
        if (r.ManyKeys is { } many)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"Memory: the webhook peaks at {Mib(r.PeakRssAfterWarm)} in the warm runs (the floor, same runtime and Kestrel, at {Mib(r.FloorPeakRss)}), {Mib(r.PeakRssAfterRuns)} after the cold burst and {Mib(many.PeakBytes)} after caching {many.Exchanges:N0} keys, so the keys themselves cost {Mib(Math.Max(0, many.PeakBytes - r.PeakRssAfterRuns))} of peak.");
        }
        if (r.StartupBurst is { } burst)
        {
            yield return burst.Errors == 0
                ? string.Create(CultureInfo.InvariantCulture, $"A fresh process answered its first {burst.Requests} simultaneous admissions within {Ms(burst.FromStart.Max)} of their arrival{(burst.FromStart.Max > 2000 ? ", longer than the 2 s inline budget a minting admission may take: the wait is spent before the decision starts" : "")}.")
                : string.Create(CultureInfo.InvariantCulture, $"A fresh process failed or left unanswered {burst.Errors} of its first {burst.Requests} simultaneous admissions (within 25 s) although `/readyz` said it was ready.");
        }
        yield return "The load generator runs on the same two cores as the server under test, so absolute rates are lower than the server alone would reach. The webhook/floor ratio is fair: both face the same generator, the same TLS and the same connection count.";
        if (double.TryParse(context.LoadAverageAtStart, CultureInfo.InvariantCulture, out var load) && load > 0.5)
            yield return string.Create(CultureInfo.InvariantCulture, $"The machine was not idle when the run started (load average {context.LoadAverageAtStart}); expect noise, and compare ratios rather than absolute numbers.");
    }

    private static string Method(BenchSettings s) => string.Create(CultureInfo.InvariantCulture, $"""
        ## Method

        - **Command**: `make bench`, which runs `bench/run.sh`: a Release build of `bench/bench.slnf`, the micro-benchmarks in short mode, then `bench/QuayAdmission.LoadBench` (`run` mode). Everything listens on 127.0.0.1 only, and the script's trap stops every process it started.
        - **Set-up**: the Kubernetes API and Quay stand-ins of `tests/QuayAdmission.Tests/Fakes` run inside the load generator; the real webhook (`dotnet src/QuayAdmission/bin/Release/net10.0/QuayAdmission.dll`, configured by environment as in a pod, default logging to a file as a container runtime would collect it) and the floor run as child processes. The floor (`floor` mode of the load generator, same runtime settings) has the webhook's Kestrel set-up and answers a canned review of the same size after parsing the request into a small record.
        - **Load**: an in-repo HTTP/1.1 client over TLS 1.3 (ALPN `http/1.1`), one keep-alive connection per simulated apiserver connection, requests prebuilt and every answer checked (status 200, uid echoed, allowed, a JSON patch, no warnings); any failure fails the run. Before any clock runs, each server gets {s.ServerWarmup.TotalSeconds:0.#} s at saturation, uncounted, so tiered compilation has settled. *Saturation*: each connection sends its next request as soon as the answer arrives, {s.SaturationWarmup.TotalSeconds:0.#} s of warm-up then {s.SaturationMeasure.TotalSeconds:0.#} s counted; "server CPU per request" is the server process's user+system time from `/proc/<pid>/stat` over the counted window divided by the requests answered in it. *Fixed rate*: a pacer thread schedules {s.Rate} requests/s ({s.RateWarmup.TotalSeconds:0.#} s warm-up, {s.RateMeasure.TotalSeconds:0.#} s counted) and hands each to a free connection; latency is measured from the scheduled time, so a stall is charged to every request behind it (no coordinated omission); "service time" is from the actual write. Percentiles are exact ranks over all recorded latencies.
        - **Cold path**: {s.ColdAdmissions} reviews for {s.ColdKeys} ServiceAccounts (each trusted at the Quay stand-in), interleaved so every key is asked for again while its first exchange is in flight, all queued at once and sent over {s.ColdConnections} connections (opened beforehand); "from burst start" includes the wait for a free connection, "service time" does not. Exchanges, TokenRequests and Secret writes are the stand-ins' counters.
        - **Keys**: {s.ManyKeys:N0} reviews for {s.ManyKeys:N0} distinct ServiceAccounts over {s.ManyKeysConnections} connections, then VmRSS and VmHWM from `/proc/<pid>/status` of the webhook process.
        - **Allocation**: `GC.GetTotalAllocatedBytes(precise: true)` read before and after {s.AllocationRequests:N0} warm requests ({s.AllocationConnections} connections, opened and warmed with {s.AllocationWarmup:N0} requests first) through the real HTTPS stack. The webhook is hosted for this in the load generator's `host` mode, which is `src/QuayAdmission/Program.cs` line for line plus a `GET /bench/allocated` endpoint, because the separate process exposes no allocation counter; the floor exposes the same endpoint.
        - **Startup**: {s.StartupRuns} starts of the webhook process; the time from just before `Process.Start` to the first 200 from `/readyz` (polled every 5 ms). On the last start, {s.StartupBurst} admissions for one new key are sent at once as soon as it is ready (connections opened first); they must all be answered, with a warning at worst, within 25 s.
        - **Refresher at scale**: its own section says how; `bench/run.sh` runs it (`scale` mode) before the load runs, and `run --scale` includes the section it writes.
        - **Micro-benchmarks**: `bench/QuayAdmission.Benchmarks`. `make bench` runs them in-process with BenchmarkDotNet's short job and `DOTNET_GCgen0size=0x800000` (a fixed 8 MiB gen0, so a benchmark that allocates reuses warm memory instead of depending on the GC's gen0 budget); for full runs: `DOTNET_GCgen0size=0x800000 dotnet run -c Release --project bench/QuayAdmission.Benchmarks -- --filter '*'`. Review decode and encode use a source-generated context declared in the benchmark project exactly like src's internal `AdmissionJsonContext`.
        - **Quick check of the bench itself** (numbers meaningless): `bench/run.sh --quick`.

        """);

    private static WarmResult? Warm(BenchResults r, string server, int connections) =>
        r.Warm.FirstOrDefault(w => w.Server == server && w.Connections == connections);

    private static double Ratio(BenchResults r, int connections) =>
        Warm(r, "webhook", connections) is { } w && Warm(r, "floor", connections) is { } f && f.Saturation.RequestsPerSecond > 0
            ? w.Saturation.RequestsPerSecond / f.Saturation.RequestsPerSecond
            : double.NaN;

    private static double CpuRatio(BenchResults r, int connections) =>
        Warm(r, "webhook", connections) is { } w && Warm(r, "floor", connections) is { } f
            ? w.Saturation.CpuMicrosecondsPerRequest / f.Saturation.CpuMicrosecondsPerRequest
            : double.NaN;

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
