using k8s.Models;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Refresh;

public enum RefreshAction
{
    Keep,
    Renew,
    Fill,
    Delete,
}

/// <summary>What the refresher does with one managed Secret: a pure function of the Secret, the clock and its use.</summary>
public static class RefreshPlan
{
    public static RefreshAction Decide(V1Secret secret, DateTimeOffset now, bool inUse, double refreshFraction, RefresherOptions options)
    {
        var created = secret.Metadata.CreationTimestamp is { } c ? new DateTimeOffset(DateTime.SpecifyKind(c, DateTimeKind.Utc)) : now;
        if (PullSecretManifest.ExpiresAt(secret) is not { } expires)
        {
            // A placeholder: worth filling while a Pod may want it, garbage once nothing did for GcAfter.
            return inUse || now - created < options.GcAfter ? RefreshAction.Fill : RefreshAction.Delete;
        }

        if (!inUse && now - expires >= options.GcAfter)
            return RefreshAction.Delete;

        // Quay's tokens carry iat; without it assume the token was written when the Secret last changed, at worst at creation.
        var issued = PullSecretManifest.IssuedAt(secret) ?? created;
        var due = issued + (expires - issued) * refreshFraction;
        var wanted = inUse || now - issued < options.UnusedGrace;
        return now >= due && wanted ? RefreshAction.Renew : RefreshAction.Keep;
    }
}
