using System.Globalization;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// The run's timings and names in one place. Robot tokens live 120 s here (Quay's are an hour), so
/// the refresher's work happens within minutes; the webhook is told to match (README.md, "Configuration").
/// </summary>
internal static class E2ESettings
{
    /// <summary>The registry the node pulls from (shared/realnode: https://quay.local), the webhook's only one.</summary>
    public const string RegistryHost = "quay.local";

    public const string Image = RegistryHost + "/acme/app:1";

    /// <summary>Where the leases of every group live: the webhook's own namespace, as in the manifests.</summary>
    public const string LeaseNamespace = E2EManifests.Namespace;

    public const string WebhookServiceAccount = "quay-admission";

    public const string WebhookUser = "system:serviceaccount:quay-admission:quay-admission";

    public static readonly TimeSpan TokenLifetime = TimeSpan.FromSeconds(120);

    /// <summary>Renew at half-life, as the manifests do.</summary>
    public const double RefreshFraction = 0.5;

    public static TimeSpan HalfLife => TokenLifetime * RefreshFraction;

    /// <summary>Below the half-life: admission reuses a token with 30 s left instead of minting each time (the default 10 min exceeds the whole lifetime).</summary>
    public static readonly TimeSpan MinRemaining = TimeSpan.FromSeconds(30);

    /// <summary>The refresher's resync: a Secret is renewed within this of its half-life (default 30 s, a quarter of the lifetime here).</summary>
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(5);

    /// <summary>The refresher's per-Secret backoff cap (default 10 min, more than five token lifetimes here).</summary>
    public static readonly TimeSpan RefresherBackoffMax = TimeSpan.FromMinutes(1);

    /// <summary>Leader election as configured by default (README.md): set explicitly so the failover scenario reads what the processes were given.</summary>
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(15);

    public static readonly TimeSpan RenewDeadline = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan RetryPeriod = TimeSpan.FromSeconds(2);

    /// <summary>The webhook identity's own token (kubectl create token): longer than any run.</summary>
    public const string WebhookTokenDuration = "2h";

    public static string Format(TimeSpan span) => span.ToString("c", CultureInfo.InvariantCulture);
}

/// <summary>The namespaces of a run; each group of webhook processes acts in its own and is told to leave the others alone.</summary>
internal static class E2ENamespaces
{
    public const string Admission = "e2e-admission";
    public const string Renewal = "e2e-renewal";
    public const string Node = "e2e-node";
    public const string Cut = "e2e-cut";
    public const string Policy = "e2e-policy";

    public static readonly IReadOnlyList<string> All = [Admission, Renewal, Node, Cut, Policy];
}
