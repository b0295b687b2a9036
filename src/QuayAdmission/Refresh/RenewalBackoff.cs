using System.Collections.Concurrent;

namespace QuayAdmission.Refresh;

/// <summary>Per-Secret exponential backoff with jitter, capped; forgotten on success.</summary>
public sealed class RenewalBackoff(RefresherOptions options)
{
    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset NotBefore)> state = new();

    public bool MayTry(string secret, DateTimeOffset now) => !state.TryGetValue(secret, out var s) || now >= s.NotBefore;

    /// <summary>Records a failure; returns how many in a row this Secret has had.</summary>
    public int Failed(string secret, DateTimeOffset now)
    {
        var failures = state.TryGetValue(secret, out var s) ? s.Failures + 1 : 1;
        var exponential = options.BackoffBase * Math.Pow(2, Math.Min(failures - 1, 30));
        var delay = exponential < options.BackoffMax ? exponential : options.BackoffMax;
        // ±20 % so that Secrets failing together do not retry together.
        var jitter = 0.8 + (Random.Shared.NextDouble() * 0.4);
        state[secret] = (failures, now + (delay * jitter));
        return failures;
    }

    public void Succeeded(string secret) => state.TryRemove(secret, out _);

    /// <summary>Drops state of Secrets that no longer exist.</summary>
    public void Retain(IReadOnlySet<string> secrets)
    {
        foreach (var secret in state.Keys)
        {
            if (!secrets.Contains(secret))
                state.TryRemove(secret, out _);
        }
    }
}
