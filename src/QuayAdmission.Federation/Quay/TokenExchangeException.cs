namespace QuayAdmission.Quay;

/// <summary>
/// A token could not be obtained. The message is safe to show a person (warnings, events, logs):
/// it never carries a token. <see cref="Refused"/> says the other side said no, as opposed to being unreachable.
/// </summary>
public sealed class TokenExchangeException(string message, bool refused = false, TimeSpan? retryAfter = null) : Exception(message)
{
    public bool Refused { get; } = refused;

    /// <summary>How long the other side asked us to wait (a 429's or 503's Retry-After): no retry comes sooner.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
