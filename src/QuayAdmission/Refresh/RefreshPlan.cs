using QuayAdmission.PullSecrets;

namespace QuayAdmission.Refresh;

public enum RefreshAction
{
    Keep,
    Renew,
    Fill,
    Delete,

    /// <summary>Not a plan's answer: the reconciler's, for a Secret that a Pod lists and that does not exist.</summary>
    Recreate,
}

/// <summary>
/// One decision about a managed Secret. <paramref name="LookAgainAt"/>, set for <see cref="RefreshAction.Keep"/>:
/// the next time the decision can change by itself (its renewal falls due, or it may be collected).
/// </summary>
public readonly record struct RefreshDecision(RefreshAction Action, DateTimeOffset? LookAgainAt = null);

/// <summary>What the refresher does with one managed Secret: a pure function of the Secret, the clock and its use.</summary>
public static class RefreshPlan
{
    public static RefreshDecision Decide(ManagedSecret secret, DateTimeOffset now, bool inUse, double refreshFraction, RefresherOptions options)
    {
        var created = secret.CreatedAt ?? now;
        if (secret.ExpiresAt is not { } expires)
        {
            // A placeholder: worth filling while a Pod may want it, garbage once nothing did for GcAfter.
            return new(inUse || now - created < options.GcAfter ? RefreshAction.Fill : RefreshAction.Delete);
        }

        var collectable = expires + options.GcAfter;
        if (!inUse && now >= collectable)
            return new(RefreshAction.Delete);

        // Quay's tokens carry iat; without it assume the token was written when the Secret last changed, at worst at creation.
        var issued = secret.IssuedAt ?? created;
        var due = RenewalDue(issued, expires, refreshFraction);
        var wanted = inUse || now - issued < options.UnusedGrace;
        if (now >= due && wanted)
            return new(RefreshAction.Renew);
        // Both times lie ahead: before due nothing changes by itself; past it, unused, only collection is left.
        return new(RefreshAction.Keep, now < due ? due : collectable);
    }

    /// <summary>When a token issued at <paramref name="issued"/> and expiring at <paramref name="expires"/> is renewed.</summary>
    public static DateTimeOffset RenewalDue(DateTimeOffset issued, DateTimeOffset expires, double refreshFraction) =>
        issued + ((expires - issued) * refreshFraction);
}
