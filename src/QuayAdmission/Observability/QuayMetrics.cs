using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace QuayAdmission.Observability;

/// <summary>
/// The webhook's instruments. Labels are bounded: outcomes, results and configured registries,
/// never pod or Secret names. Exported as Prometheus text at /metrics.
/// </summary>
public sealed class QuayMetrics
{
    public const string MeterName = "QuayAdmission";

    // Admission must finish well under the webhook's 5 s timeout; exchanges get up to ExchangeTimeout.
    private static readonly IReadOnlyList<double> LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];

    private readonly Counter<long> admissions;
    private readonly Histogram<double> admissionDuration;
    private readonly Counter<long> exchanges;
    private readonly Histogram<double> exchangeDuration;
    private readonly Counter<long> cacheLookups;
    private readonly Counter<long> renewals;
    private readonly Counter<long> deletions;
    private readonly Counter<long> backgroundErrors;
    private readonly Counter<long> watchRestarts;
    private readonly ConcurrentDictionary<string, Func<DateTimeOffset?>> loops = new(StringComparer.Ordinal);
    private Func<ManagedSecretsSnapshot?>? managed;
    private Func<int>? queueDepth;

    public QuayMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        var latency = new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets };
        admissions = meter.CreateCounter<long>("quay_admission.admissions", description: "Admission decisions by outcome.");
        admissionDuration = meter.CreateHistogram("quay_admission.admission.duration", "s", "Time to decide an admission.", advice: latency);
        exchanges = meter.CreateCounter<long>("quay_admission.token_exchanges", description: "Token exchanges (TokenRequest + Quay) by registry and result.");
        exchangeDuration = meter.CreateHistogram("quay_admission.token_exchange.duration", "s", "Time of one token exchange.", advice: latency);
        cacheLookups = meter.CreateCounter<long>("quay_admission.cache_lookups", description: "Token cache lookups on the admission path by result (hit, miss).");
        renewals = meter.CreateCounter<long>("quay_admission.renewals", description: "Refresher renewals and placeholder fills by result.");
        deletions = meter.CreateCounter<long>("quay_admission.deletions", description: "Expired, unused Secrets deleted by the refresher, by result.");
        backgroundErrors = meter.CreateCounter<long>("quay_admission.background_errors", description: "Faults caught by a supervised background loop, by loop.");
        watchRestarts = meter.CreateCounter<long>("quay_admission.watch_restarts", description: "Watches started again, by resource and reason (timeout, gone, error).");
        meter.CreateObservableGauge("quay_admission.background_last_success_timestamp", ObserveLoops, unit: "s",
            description: "Unix time of each background loop's last success; alert when it stops moving.");
        meter.CreateObservableGauge("quay_admission.managed_secrets", () => Observe(m => m.Count),
            description: "Managed pull Secrets in the refresher's cache (leader only).");
        meter.CreateObservableGauge("quay_admission.earliest_token_expiry", () => Observe(m => m.SecondsUntilEarliestExpiry),
            unit: "s", description: "Seconds until the earliest token that a Pod lists expires, computed at scrape time (leader only); alert when it nears zero.");
        meter.CreateObservableGauge("quay_admission.work_queue_depth", ObserveQueue,
            description: "Secrets waiting in the refresher's work queue, due now (leader only).");
    }

    public void Admission(string outcome, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        admissions.Add(1, tag);
        admissionDuration.Record(elapsed.TotalSeconds, tag);
    }

    public void Exchange(string registry, string result, TimeSpan elapsed)
    {
        var registryTag = new KeyValuePair<string, object?>("registry", registry);
        exchanges.Add(1, registryTag, new KeyValuePair<string, object?>("result", result));
        exchangeDuration.Record(elapsed.TotalSeconds, registryTag);
    }

    public void CacheLookup(bool hit) => cacheLookups.Add(1, new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    public void Renewal(string result) => renewals.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Deletion(string result) => deletions.Add(1, new KeyValuePair<string, object?>("result", result));

    public void BackgroundError(string loop) => backgroundErrors.Add(1, new KeyValuePair<string, object?>("loop", loop));

    public void WatchRestart(string resource, string reason) =>
        watchRestarts.Add(1, new KeyValuePair<string, object?>("resource", resource), new KeyValuePair<string, object?>("reason", reason));

    /// <summary>A loop's last success is read at scrape time, so a loop that stopped succeeding shows an old timestamp.</summary>
    public void TrackLoop(string loop, Func<DateTimeOffset?> lastSuccess) => loops[loop] = lastSuccess;

    /// <summary>The refresher's view, read at scrape time; null (no series) on replicas that do not lead.</summary>
    public void ObserveManagedSecrets(Func<ManagedSecretsSnapshot?>? snapshot) => Volatile.Write(ref managed, snapshot);

    public void ObserveQueueDepth(Func<int>? depth) => Volatile.Write(ref queueDepth, depth);

    private IEnumerable<Measurement<double>> Observe(Func<ManagedSecretsSnapshot, double?> read)
    {
        if (Volatile.Read(ref managed)?.Invoke() is { } snapshot && read(snapshot) is { } value)
            yield return new Measurement<double>(value);
    }

    private IEnumerable<Measurement<long>> ObserveQueue()
    {
        if (Volatile.Read(ref queueDepth) is { } depth)
            yield return new Measurement<long>(depth());
    }

    private IEnumerable<Measurement<double>> ObserveLoops()
    {
        foreach (var (loop, lastSuccess) in loops)
        {
            if (lastSuccess() is { } at)
                yield return new Measurement<double>(at.ToUnixTimeMilliseconds() / 1000.0, new KeyValuePair<string, object?>("loop", loop));
        }
    }
}

public sealed record ManagedSecretsSnapshot(int Count, double? SecondsUntilEarliestExpiry);
