namespace QuayAdmission.PullSecrets;

/// <summary>
/// Per-key memory of failed exchanges, so that a failing key costs one TokenRequest and one Quay
/// call per backoff period instead of one per Pod: while a key backs off, admission is answered
/// from here. The pause doubles with each failure in a row (±20 % jitter) up to FailureBackoffMax,
/// and starts longer after a refusal (Quay or the API said no: an immediate retry will hear the
/// same) than after a fault. A success clears the key; a key that has not failed for
/// FailureBackoffMax past its retry time is forgotten.
/// </summary>
public sealed class ExchangeBackoff(TimeProvider time, TokenOptions options)
{
    // An entry is a key and a short reason; the cap bounds memory when a tenant names endless failing keys.
    // Past it a new failing key is simply not remembered, and admission retries it as it did before.
    internal const int MaxEntries = 50_000;

    private readonly Dictionary<PullSecretKey, Entry> entries = [];
    private readonly Lock sync = new();
    private DateTimeOffset nextSweep = DateTimeOffset.MinValue;

    internal int Count
    {
        get
        {
            lock (sync)
                return entries.Count;
        }
    }

    /// <summary>The remembered answer while <paramref name="key"/> backs off; null when it may be tried.</summary>
    public TokenStatus? Current(PullSecretKey key)
    {
        var now = time.GetUtcNow();
        lock (sync)
        {
            return entries.TryGetValue(key, out var entry) && now < entry.RetryAt ? entry.Answer(now) : null;
        }
    }

    /// <summary>
    /// Learns from the outcome of an exchange attempt: a clean success clears the key, anything else
    /// backs it off. Returns the status to hand to the waiting admissions, with the retry time on a failure.
    /// </summary>
    public TokenStatus Record(PullSecretKey key, TokenStatus outcome)
    {
        switch (outcome)
        {
            case TokenStatus.Ready { RenewalError: null }:
                lock (sync)
                    entries.Remove(key);
                return outcome;
            case TokenStatus.Ready { RenewalError: { } reason } stale:
                // The old token still works; whether Quay refused or failed, admission is served by it meanwhile.
                Failed(key, reason, refused: false, stale.ExpiresAt);
                return outcome;
            case TokenStatus.Unavailable failure:
                return failure with { RetryAt = Failed(key, failure.Reason, failure.Refused, stillValidUntil: null, failure.RetryAfter) };
            default:
                return outcome;
        }
    }

    private DateTimeOffset? Failed(PullSecretKey key, string reason, bool refused, DateTimeOffset? stillValidUntil, TimeSpan? retryAfter = null)
    {
        var now = time.GetUtcNow();
        lock (sync)
        {
            Sweep(now);
            var known = entries.TryGetValue(key, out var previous) && !previous.Forgotten(now, options.FailureBackoffMax);
            if (!known && entries.Count >= MaxEntries)
                return null;
            var failures = known ? previous!.Failures + 1 : 1;
            // A Retry-After is honoured (up to FailureBackoffMax: a far-off date is not a reason to wait for hours).
            var asked = retryAfter is { } wait ? (wait < options.FailureBackoffMax ? wait : options.FailureBackoffMax) : TimeSpan.Zero;
            var delay = Delay(failures, refused);
            var retryAt = now + (asked > delay ? asked : delay);
            entries[key] = new Entry(failures, retryAt, reason, refused, stillValidUntil);
            return retryAt;
        }
    }

    private TimeSpan Delay(int failures, bool refused)
    {
        var first = refused ? options.RefusalBackoff : options.FailureBackoff;
        var exponential = first * Math.Pow(2, Math.Min(failures - 1, 30));
        var capped = exponential < options.FailureBackoffMax ? exponential : options.FailureBackoffMax;
        // ±20 % so that keys failing together (a Quay outage) do not come back together.
        return capped * (0.8 + (Random.Shared.NextDouble() * 0.4));
    }

    /// <summary>Drops forgotten entries, at most once per FailureBackoffMax so a full table costs no more per failure.</summary>
    private void Sweep(DateTimeOffset now)
    {
        if (now < nextSweep)
            return;
        // Removing while enumerating is allowed for Dictionary since .NET Core 3.0.
        foreach (var (key, entry) in entries)
        {
            if (entry.Forgotten(now, options.FailureBackoffMax))
                entries.Remove(key);
        }
        nextSweep = now + options.FailureBackoffMax;
    }

    private sealed record Entry(int Failures, DateTimeOffset RetryAt, string Reason, bool Refused, DateTimeOffset? StillValidUntil)
    {
        public TokenStatus Answer(DateTimeOffset now) => StillValidUntil is { } validUntil && validUntil > now
            ? new TokenStatus.Ready(validUntil, RenewalError: Reason)
            : new TokenStatus.Unavailable(Reason, Refused, RetryAt);

        public bool Forgotten(DateTimeOffset now, TimeSpan max) => now >= RetryAt + max;
    }
}
