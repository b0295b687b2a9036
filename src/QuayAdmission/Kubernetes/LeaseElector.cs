using System.Net;
using k8s.Models;

namespace QuayAdmission.Kubernetes;

/// <summary>
/// Leader election on a coordination.k8s.io/v1 Lease, written here because KubernetesClient.Aot
/// (the client a native build needs) has no LeaderElection. The rules follow client-go: take a
/// free or expired Lease with an update guarded by its resourceVersion, renew every RetryPeriod,
/// and stop leading once no renewal has succeeded for RenewDeadline. Expiry is judged by this
/// process's clock from when it last saw the record change, never from another node's clock.
/// Two additions: leading also ends when the caller's work stops making progress (the Lease is
/// then released so a healthy replica takes over), and the Lease is released on shutdown.
/// </summary>
public sealed class LeaseElector(KubernetesApi api, LeaseElectionSettings settings, TimeProvider time, ILogger logger)
{
    private (string? Holder, DateTime? RenewTime, string? ResourceVersion) observed;
    private DateTimeOffset observedAt;
    private string? lastError;
    private volatile bool leading;

    public bool IsLeader => leading;

    /// <summary>
    /// Elects, leads and lets go again until <paramref name="stopping"/>. While leading, runs
    /// <paramref name="whileLeading"/> with a token cancelled when leadership ends; it must run
    /// until that token is cancelled. <paramref name="healthy"/> is asked before every renewal:
    /// false means the work stalled, and the Lease is let go. Throws only on <paramref name="stopping"/>.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task> whileLeading, Func<bool> healthy, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            await AcquireAsync(healthy, stopping);
            var release = await LeadAsync(whileLeading, healthy, stopping);
            if (release)
                await ReleaseAsync();
            if (!stopping.IsCancellationRequested && release)
            {
                // Let another replica take the Lease before this one, which just stalled, competes again.
                await Task.Delay(settings.LeaseDuration * 2, time, stopping);
            }
        }
        stopping.ThrowIfCancellationRequested();
    }

    private async Task AcquireAsync(Func<bool> healthy, CancellationToken stopping)
    {
        while (!(healthy() && await TryAcquireOrRenewAsync(settings.RenewDeadline, stopping)))
            await Task.Delay(settings.RetryPeriod, time, stopping);
    }

    /// <summary>Leads until a renewal deadline passes, the work stalls or the process stops; true when the Lease should be released.</summary>
    private async Task<bool> LeadAsync(Func<CancellationToken, Task> whileLeading, Func<bool> healthy, CancellationToken stopping)
    {
        leading = true;
        KubernetesLog.Leading(logger, settings.Identity, settings.Namespace, settings.Name);
        using var leadership = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var work = Task.Run(() => whileLeading(leadership.Token), CancellationToken.None);
        var lastRenewal = time.GetUtcNow();
        var release = true;
        try
        {
            while (true)
            {
                await Task.Delay(settings.RetryPeriod, time, stopping);
                if (work.IsCompleted || !healthy())
                {
                    KubernetesLog.Stalled(logger, settings.Identity, settings.Name);
                    break;
                }
                // A renewal gets only what is left of the deadline: a hung request must not keep this replica leading past it.
                var left = lastRenewal + settings.RenewDeadline - time.GetUtcNow();
                if (left > TimeSpan.Zero && await TryAcquireOrRenewAsync(left, stopping))
                {
                    lastRenewal = time.GetUtcNow();
                }
                else if (time.GetUtcNow() - lastRenewal >= settings.RenewDeadline)
                {
                    // Another replica may hold it by now: releasing could undo its claim.
                    release = false;
                    KubernetesLog.LostLease(logger, settings.Identity, settings.Name);
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        leading = false;
        await leadership.CancelAsync();
        try
        {
            await work;
        }
        catch (Exception e) when (e is not OperationCanceledException || leadership.IsCancellationRequested)
        {
            // The work's own faults are its supervisor's business; here they only end leadership.
        }
        return release;
    }

    private async Task<bool> TryAcquireOrRenewAsync(TimeSpan budget, CancellationToken stopping)
    {
        // The client's own timeout may be longer than the election can wait.
        using var attempt = new CancellationTokenSource(budget, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, attempt.Token);
        try
        {
            var acquired = await TryAcquireOrRenewOnceAsync(linked.Token);
            Healthy();
            return acquired;
        }
        catch (Exception e) when (!stopping.IsCancellationRequested)
        {
            Unhealthy(e);
            return false;
        }
    }

    private async Task<bool> TryAcquireOrRenewOnceAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        V1Lease lease;
        try
        {
            lease = await api.ReadLeaseAsync(settings.Namespace, settings.Name, ct);
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.NotFound))
        {
            return await CreateAsync(now, ct);
        }

        var spec = lease.Spec ?? new V1LeaseSpec();
        var record = (spec.HolderIdentity, spec.RenewTime, lease.Metadata.ResourceVersion);
        if (record != observed)
        {
            observed = record;
            observedAt = now;
        }
        var mine = spec.HolderIdentity == settings.Identity;
        var duration = spec.LeaseDurationSeconds is > 0 and var seconds ? TimeSpan.FromSeconds(seconds) : settings.LeaseDuration;
        if (!mine && !string.IsNullOrEmpty(spec.HolderIdentity) && now < observedAt + duration)
            return false;

        var claim = new V1LeaseSpec
        {
            HolderIdentity = settings.Identity,
            LeaseDurationSeconds = (int)Math.Ceiling(settings.LeaseDuration.TotalSeconds),
            AcquireTime = mine ? spec.AcquireTime : now.UtcDateTime,
            RenewTime = now.UtcDateTime,
            LeaseTransitions = mine ? spec.LeaseTransitions : (spec.LeaseTransitions ?? 0) + 1,
        };
        try
        {
            var written = await api.ReplaceLeaseAsync(Written(lease, claim), ct);
            Observe(written, now);
            return true;
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.Conflict))
        {
            return false;
        }
    }

    private async Task<bool> CreateAsync(DateTimeOffset now, CancellationToken ct)
    {
        var lease = Written(resourceVersion: null, new V1LeaseSpec
        {
            HolderIdentity = settings.Identity,
            LeaseDurationSeconds = (int)Math.Ceiling(settings.LeaseDuration.TotalSeconds),
            AcquireTime = now.UtcDateTime,
            RenewTime = now.UtcDateTime,
            LeaseTransitions = 0,
        });
        try
        {
            Observe(await api.CreateLeaseAsync(lease, ct), now);
            return true;
        }
        catch (Exception e) when (e.IsStatus(HttpStatusCode.Conflict))
        {
            return false;
        }
    }

    /// <summary>Gives the Lease up if this replica still holds it, so the next leader need not wait out LeaseDuration.</summary>
    private async Task ReleaseAsync()
    {
        // Shutdown has cancelled the process's token; the release gets a short budget of its own.
        using var budget = new CancellationTokenSource(settings.RenewDeadline, time);
        try
        {
            var lease = await api.ReadLeaseAsync(settings.Namespace, settings.Name, budget.Token);
            if (lease.Spec?.HolderIdentity != settings.Identity)
                return;
            // As client-go releases: holder empty, a one-second duration, renew and acquire time now.
            var now = time.GetUtcNow().UtcDateTime;
            var released = new V1LeaseSpec
            {
                LeaseDurationSeconds = 1,
                AcquireTime = now,
                RenewTime = now,
                LeaseTransitions = lease.Spec.LeaseTransitions,
            };
            await api.ReplaceLeaseAsync(Written(lease, released), budget.Token);
            KubernetesLog.Released(logger, settings.Identity, settings.Name);
        }
        catch (Exception e)
        {
            // Not fatal: the Lease simply expires after LeaseDuration.
            KubernetesLog.ReleaseFailed(logger, settings.Name, KubernetesErrors.Describe(e));
        }
    }

    /// <summary>
    /// The Lease as this replica writes it: built afresh, never the object read. What a real API server
    /// sent (managedFields, annotations of kubectl) is not ours to echo; a PUT without managedFields
    /// keeps the server's, and the read resourceVersion makes the write conditional on that read.
    /// </summary>
    private V1Lease Written(V1Lease read, V1LeaseSpec spec) => Written(read.Metadata.ResourceVersion, spec);

    private V1Lease Written(string? resourceVersion, V1LeaseSpec spec) => new()
    {
        ApiVersion = "coordination.k8s.io/v1",
        Kind = "Lease",
        Metadata = new V1ObjectMeta { Name = settings.Name, NamespaceProperty = settings.Namespace, ResourceVersion = resourceVersion },
        Spec = spec,
    };

    private void Observe(V1Lease written, DateTimeOffset now)
    {
        observed = (written.Spec?.HolderIdentity, written.Spec?.RenewTime, written.Metadata?.ResourceVersion);
        observedAt = now;
    }

    private void Healthy()
    {
        if (lastError is null)
            return;
        lastError = null;
        KubernetesLog.ElectionRecovered(logger, settings.Name);
    }

    private void Unhealthy(Exception e)
    {
        var description = KubernetesErrors.Describe(e);
        if (description == lastError)
            return;
        lastError = description;
        KubernetesLog.ElectionFailing(logger, settings.Name, description);
    }
}
