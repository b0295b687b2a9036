using System.Globalization;
using System.Text;

namespace QuayAdmission.LoadBench;

/// <summary>The "Refresher at scale" section of docs/benchmarks.md, written by the <c>scale</c> mode and included by <c>run</c>.</summary>
internal static class ScaleReport
{
    // The targets of issue 8.
    private const long GrowthTargetBytes = 64L * 1024 * 1024;
    private static readonly TimeSpan RecreationTarget = TimeSpan.FromSeconds(5);

    public static string Write(ScaleResults r, IReadOnlyList<string> failures)
    {
        var s = r.Settings;
        var shape = s.Shape;
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"## Refresher at scale ({shape.Secrets:N0} managed Secrets in {shape.Namespaces:N0} namespaces, {shape.InjectedPods:N0} injected and {shape.OtherPods:N0} other Pods)");
        md.AppendLine();
        if (failures.Count > 0)
        {
            md.AppendLine("**This scenario FAILED its correctness checks; its numbers are not to be trusted:**");
            md.AppendLine();
            foreach (var failure in failures)
                md.AppendLine("- " + failure.Split('\n')[0]);
            md.AppendLine();
        }

        var minutes = r.SteadyWall.TotalMinutes;
        var recreations = r.Recreations.Select(x => x.WithToken.TotalMilliseconds).Order().ToList();
        var exchange = r.MeanExchange ?? TimeSpan.Zero;
        md.AppendLine("| target | measured | |");
        md.AppendLine("|---|---|---|");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| no LIST in steady state (no resync lists; no Secret was due for deletion) | {r.SteadyLists} LISTs in {r.SteadyWall.TotalSeconds:0} s, {r.SteadyResyncs} resyncs | {Verdict(r.SteadyLists == 0)} |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| resident memory for the caches at most {Mib(GrowthTargetBytes)} | +{Mib(r.Growth)} settled (+{Mib(r.SyncRss - r.IdleRss)} at sync), peak +{Mib(PeakGrowth(r))} | {Verdict(r.Growth <= GrowthTargetBytes)} |");
        if (recreations.Count > 0)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| a deleted Secret re-created within {RecreationTarget.TotalSeconds:0} s plus one exchange | median {Ms(Median(recreations))}, max {Ms(recreations[^1])} of {recreations.Count}; one exchange {Ms(exchange.TotalMilliseconds)} | {Verdict(recreations[^1] <= (RecreationTarget + exchange).TotalMilliseconds)} |");
        }
        md.AppendLine();

        md.AppendLine("| measurement | value |");
        md.AppendLine("|---|---|");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| initial sync: process start to leading with both caches synced | {Seconds(r.SyncTime)} (`/readyz` after {Seconds(r.ReadyTime)}; the first resync's {shape.Secrets:N0} reconciles done at {Seconds(r.DrainedTime)}); {r.SyncCpu.TotalSeconds:0.0} s CPU |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| initial sync: API traffic | {Traffic(r.SyncTraffic, perMinute: null)} |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| steady state: API requests and response bytes per minute | {Traffic(r.SteadyTraffic, perMinute: minutes)} |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| steady state: watch reconnects, webhook CPU | {r.SteadyWatchRestarts} in {r.SteadyWall.TotalSeconds:0} s; {r.SteadyCpu.TotalSeconds / minutes:0.00} s CPU per minute ({r.SteadyResyncs} resyncs of {shape.Secrets:N0} Secrets) |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| resident memory (VmRSS): idle on an empty API / at sync / first resync done / end of steady state | {Mib(r.IdleRss)} / {Mib(r.SyncRss)} / {Mib(r.DrainedRss)} / {Mib(r.SteadyRss)} |");
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| peak resident memory (VmHWM): idle / after the sync / end of steady state | {Mib(r.IdlePeak)} / {Mib(r.DrainedPeak)} / {Mib(r.SteadyPeak)} |");
        if (r.Recreations.Count > 0)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| deleted Secret: back (new uid) / holding a token, each | {string.Join("; ", r.Recreations.Select(x => $"{Ms(x.Present.TotalMilliseconds)} / {Ms(x.WithToken.TotalMilliseconds)}"))} |");
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| re-creations: API traffic, Quay exchanges | {Traffic(r.RecreationTraffic, perMinute: null, requestsOnly: true)}; {r.RecreationExchanges} exchanges |");
        }
        md.AppendLine(CultureInfo.InvariantCulture, $"| seeding the stand-in | {Seconds(r.SeedTime)} |");
        md.AppendLine();

        md.AppendLine(CultureInfo.InvariantCulture, $$"""
            How: `bench/QuayAdmission.LoadBench scale` (a step of `bench/run.sh`). The real webhook process ({{r.WebhookGc}}) runs with `QuayAdmission__Refresher__Enabled=true` and its defaults (resync every 5 min, Lease renewed every 2 s) against the Kubernetes API stand-in, which sends a watch BOOKMARK once a minute as the real API does.
            First it runs on the empty API until it leads with both caches synced, idles {{s.IdleSettle.TotalSeconds:0}} s and its resident set is read (the baseline), then stops. The stand-in is then seeded: per namespace {{shape.SecretsPerNamespace}} ServiceAccounts, each with a managed Secret (`PullSecretManifest.Build`, a Quay-like JWT valid for an hour, so nothing is due for renewal) listed by {{shape.InjectedPodsPerSecret}} running Pods labelled `quay-admission.io/injected: "true"`, and {{shape.OtherPodsPerNamespace}} running Pods the webhook never touched; Pods are about 4 KB of JSON each, without managedFields.
            A new process is started; *initial sync* is from just before `Process.Start` until `/metrics` on the health port shows `quay_admission_managed_secrets` = {{shape.Secrets:N0}} and a `quay_admission_background_last_success_timestamp_seconds{loop="pod-watch"}` (polled every 100 ms). API traffic is the stand-in's per-operation counts of requests and response bytes (a watch's bytes are counted as they stream).
            *Steady state*: after the first resync's work is done, {{r.SteadyWall.TotalSeconds:0}} s with no change; requests, bytes and CPU are scaled to a minute. *Re-creation*: a Secret is deleted through the stand-in (its watches send DELETED) and the stand-in polled every 5 ms for the Secret with a new uid holding a token; {{s.Deletions}} Secrets in different namespaces, one after another. The exchange time is the mean of the webhook's `quay_admission_token_exchange_duration_seconds` over them.
            """);
        md.AppendLine();
        return md.ToString();
    }

    private static long PeakGrowth(ScaleResults r) => Math.Max(r.DrainedPeak, r.SteadyPeak) - r.IdleRss;

    /// <summary>"op: n (bytes)" per operation, most requests first; watches are long-lived, so their count is opens, their bytes what streamed.</summary>
    private static string Traffic(IReadOnlyDictionary<string, (int Requests, long ResponseBytes)> traffic, double? perMinute, bool requestsOnly = false)
    {
        if (traffic.Count == 0)
            return "none";
        var scale = perMinute is { } m && m > 0 ? 1 / m : 1;
        var parts = traffic.Where(t => t.Key is not ("jwks" or "discovery") && (!requestsOnly || t.Value.Requests > 0))
            .OrderByDescending(t => t.Value.Requests).ThenBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => requestsOnly
                ? string.Create(CultureInfo.InvariantCulture, $"{t.Key} {t.Value.Requests}")
                : string.Create(CultureInfo.InvariantCulture, $"{t.Key} {Number(t.Value.Requests * scale)} ({Bytes(t.Value.ResponseBytes * scale)})"));
        var totalBytes = traffic.Where(t => t.Key is not ("jwks" or "discovery")).Sum(t => t.Value.ResponseBytes) * scale;
        return string.Join(", ", parts) + (requestsOnly ? "" : string.Create(CultureInfo.InvariantCulture, $"; total {Bytes(totalBytes)}"));
    }

    private static string Number(double value) =>
        value.ToString(value == Math.Floor(value) ? "N0" : "0.0", CultureInfo.InvariantCulture);

    private static string Bytes(double bytes) => bytes switch
    {
        >= 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024):0.0} MiB"),
        >= 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B"),
    };

    private static double Median(List<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;

    private static string Verdict(bool met) => met ? "met" : "**missed**";

    private static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.0} s");

    private static string Ms(double milliseconds) =>
        milliseconds.ToString(milliseconds < 100 ? "0.0" : "N0", CultureInfo.InvariantCulture) + " ms";

    private static string Mib(long bytes) => RefresherScale.Mib(bytes);
}
