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

/// <summary>What the refresher does with one managed Secret: a pure function of the Secret, the clock and its use.</summary>
public static class RefreshPlan
{
    public static RefreshAction Decide(ManagedSecret secret, DateTimeOffset now, bool inUse, double refreshFraction, RefresherOptions options)
    {
        var created = secret.CreatedAt ?? now;
        if (secret.ExpiresAt is not { } expires)
        {
            // A placeholder: worth filling while a Pod may want it, garbage once nothing did for GcAfter.
            return inUse || now - created < options.GcAfter ? RefreshAction.Fill : RefreshAction.Delete;
        }

        if (!inUse && now - expires >= options.GcAfter)
            return RefreshAction.Delete;

        // Quay's tokens carry iat; without it assume the token was written when the Secret last changed, at worst at creation.
        var issued = secret.IssuedAt ?? created;
        var due = issued + (expires - issued) * refreshFraction;
        var wanted = inUse || now - issued < options.UnusedGrace;
        return now >= due && wanted ? RefreshAction.Renew : RefreshAction.Keep;
    }
}
