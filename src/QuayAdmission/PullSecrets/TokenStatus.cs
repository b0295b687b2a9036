namespace QuayAdmission.PullSecrets;

/// <summary>What admission learns about one key's token.</summary>
public abstract record TokenStatus
{
    private TokenStatus()
    {
    }

    /// <summary>
    /// The Secret holds a token valid until <paramref name="ExpiresAt"/>. <paramref name="RenewalError"/>:
    /// a renewal was due and failed, so this is the older token, still valid. <paramref name="FromCache"/>:
    /// answered from memory, without the API or Quay (the routine case admission logs at Debug).
    /// </summary>
    public sealed record Ready(DateTimeOffset ExpiresAt, string? RenewalError = null, bool FromCache = false) : TokenStatus;

    /// <summary>
    /// No usable token; <paramref name="Reason"/> is safe to show. <paramref name="Refused"/>: Quay or the API said no.
    /// <paramref name="RetryAt"/>: the key backs off, and admission will not try it again before then.
    /// <paramref name="RetryAfter"/>: the wait the other side asked for (Retry-After), which no retry undercuts.
    /// </summary>
    public sealed record Unavailable(string Reason, bool Refused, DateTimeOffset? RetryAt = null, TimeSpan? RetryAfter = null) : TokenStatus;
}
