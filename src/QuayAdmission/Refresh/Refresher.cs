using k8s;
using k8s.Models;
using Microsoft.Extensions.Options;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes;
using QuayAdmission.Observability;
using QuayAdmission.PullSecrets;

namespace QuayAdmission.Refresh;

/// <summary>
/// Keeps managed Secrets right after admission, on one replica at a time (a Lease): renews tokens
/// Pods still use, fills placeholders, deletes expired Secrets nothing uses.
/// </summary>
public sealed class Refresher(
    IKubernetes kubernetes,
    PullSecretStore store,
    PullSecretProvisioner provisioner,
    EventRecorder events,
    BackgroundLoops loops,
    QuayMetrics metrics,
    TimeProvider time,
    IOptions<RefresherOptions> options,
    IOptions<TokenOptions> tokenOptions,
    ILogger<Refresher> logger) : BackgroundService
{
    private readonly RefresherOptions settings = options.Value;
    private readonly TokenOptions tokens = tokenOptions.Value;
    private readonly RenewalBackoff backoff = new(options.Value);
    private int passes;

    /// <summary>Passes completed while leading; tests and logs use it to see which replica works.</summary>
    public int Passes => Volatile.Read(ref passes);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Enabled)
            return Task.CompletedTask;
        var elector = new LeaseElector(kubernetes, settings.Election, time, logger);
        return loops.RunAsync("leader-election", (_, ct) => elector.RunAsync(WorkWhileLeadingAsync, Healthy, ct), stoppingToken);
    }

    /// <summary>A leader whose passes stopped succeeding lets the Lease go, so another replica can try.</summary>
    private bool Healthy()
    {
        var progress = loops.Progress("refresher");
        return !progress.IsFailing || progress.LastSuccess is not { } last || time.GetUtcNow() - last < settings.StallAfter;
    }

    private async Task WorkWhileLeadingAsync(CancellationToken leading)
    {
        RefreshLog.Leading(logger, settings.EffectiveIdentity, settings.LeaseName);
        try
        {
            await loops.RunAsync("refresher", async (progress, ct) =>
            {
                using var timer = new PeriodicTimer(settings.Interval, time);
                do
                {
                    await PassAsync(ct);
                    Interlocked.Increment(ref passes);
                    progress.Succeeded();
                }
                while (await timer.WaitForNextTickAsync(ct));
            }, leading);
        }
        finally
        {
            metrics.ObserveManagedSecrets(null);
        }
    }

    /// <summary>One look at every managed Secret, acting on those that need it, a few at a time.</summary>
    public async Task PassAsync(CancellationToken ct)
    {
        var secrets = await store.ListManagedAsync(ct);
        var now = time.GetUtcNow();
        var used = await SecretsInUseAsync(secrets.Select(s => s.Metadata.NamespaceProperty).Distinct(), ct);
        var expiries = secrets.Select(PullSecretManifest.ExpiresAt).OfType<DateTimeOffset>().ToList();
        var snapshot = new ManagedSecretsSnapshot(secrets.Count, expiries.Count == 0 ? null : (expiries.Min() - now).TotalSeconds);
        metrics.ObserveManagedSecrets(() => snapshot);
        backoff.Retain(secrets.Select(Id).ToHashSet());

        var work = secrets
            .Select(s => (Secret: s, Action: RefreshPlan.Decide(s, now, used.Lists(s), tokens.RefreshFraction, settings)))
            .Where(w => w.Action != RefreshAction.Keep && backoff.MayTry(Id(w.Secret), now))
            .ToList();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = settings.Concurrency, CancellationToken = ct },
            async (item, token) => await ApplyAsync(item.Secret, item.Action, token));
    }

    private async Task ApplyAsync(V1Secret secret, RefreshAction action, CancellationToken ct)
    {
        if (action == RefreshAction.Delete)
        {
            var deleted = await store.DeleteAsync(secret.Metadata.NamespaceProperty, secret.Metadata.Name, secret.Metadata.ResourceVersion, ct);
            metrics.Deletion(deleted ? "ok" : "changed");
            if (deleted)
                RefreshLog.Deleted(logger, secret.Metadata.NamespaceProperty, secret.Metadata.Name);
            return;
        }

        if (PullSecretManifest.KeyOf(secret) is not { } key || key.SecretName != secret.Metadata.Name)
        {
            RefreshLog.Unreadable(logger, secret.Metadata.NamespaceProperty, secret.Metadata.Name);
            return;
        }
        var before = PullSecretManifest.ExpiresAt(secret);
        // Anything that lasts past the token we saw is a renewal, ours or another writer's.
        var status = await provisioner.RenewAsync(key, (before ?? DateTimeOffset.MinValue).AddSeconds(1));
        var now = time.GetUtcNow();
        if (status is TokenStatus.Ready { RenewalError: null } ready && (before is null || ready.ExpiresAt > before))
        {
            metrics.Renewal("ok");
            backoff.Succeeded(Id(secret));
            if (action == RefreshAction.Fill)
                events.Normal("Secret", key.Namespace, key.SecretName, "PlaceholderFilled", $"Filled with a token for robot {key.Robot}, valid until {ready.ExpiresAt:u}");
            return;
        }

        var reason = status switch
        {
            TokenStatus.Unavailable failure => failure.Reason,
            TokenStatus.Ready { RenewalError: { } error } => error,
            _ => "the token was not renewed",
        };
        metrics.Renewal("error");
        var failures = backoff.Failed(Id(secret), now);
        RefreshLog.RenewalFailed(logger, key.Namespace, key.SecretName, key.Robot, failures, reason);
        if (failures == settings.FailuresBeforeEvent)
            events.Warning("Secret", key.Namespace, key.SecretName, "RenewalFailing", $"Renewing the token for robot {key.Robot} failed {failures} times: {reason}");
        if (before is { } expires && expires - now < tokens.MinRemaining)
            events.Warning("Secret", key.Namespace, key.SecretName, "TokenExpiringSoon", $"The token for robot {key.Robot} expires at {expires:u} and could not be renewed: {reason}");
    }

    /// <summary>Secrets that a Pod not yet finished lists.</summary>
    private async Task<SecretUse> SecretsInUseAsync(IEnumerable<string> namespaces, CancellationToken ct)
    {
        var used = new SecretUse();
        foreach (var ns in namespaces)
        {
            try
            {
                var pods = await kubernetes.CoreV1.ListNamespacedPodAsync(ns, cancellationToken: ct);
                foreach (var pod in pods.Items.Where(p => p.Status?.Phase is not ("Succeeded" or "Failed")))
                {
                    foreach (var reference in pod.Spec?.ImagePullSecrets ?? [])
                        used.Listed.Add($"{ns}/{reference.Name}");
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                RefreshLog.PodsUnreadable(logger, ns, KubernetesErrors.Describe(e));
                used.Unknown.Add(ns);
            }
        }
        return used;
    }

    private static string Id(V1Secret secret) => $"{secret.Metadata.NamespaceProperty}/{secret.Metadata.Name}";

    /// <summary>A namespace whose Pods cannot be read counts as using all of its Secrets: nothing is deleted on a guess.</summary>
    private sealed class SecretUse
    {
        public HashSet<string> Listed { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Unknown { get; } = new(StringComparer.Ordinal);

        public bool Lists(V1Secret secret) => Listed.Contains(Id(secret)) || Unknown.Contains(secret.Metadata.NamespaceProperty);
    }
}
