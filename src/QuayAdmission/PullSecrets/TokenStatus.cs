namespace QuayAdmission.PullSecrets;

/// <summary>What admission learns about one key's token.</summary>
public abstract record TokenStatus
{
    private TokenStatus()
    {
    }

    /// <summary>The Secret holds a token valid until <paramref name="ExpiresAt"/>.</summary>
    public sealed record Ready(DateTimeOffset ExpiresAt) : TokenStatus;

    /// <summary>No usable token; <paramref name="Reason"/> is safe to show. <paramref name="Refused"/>: Quay or the API said no.</summary>
    public sealed record Unavailable(string Reason, bool Refused) : TokenStatus;
}
