using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.Observability;
using QuayAdmission.Quay;

namespace QuayAdmission.PullSecrets;

/// <summary>
/// Makes sure the pull Secret of a key holds a fresh token: the watched Secret cache, then the
/// Secret in the API, then a new exchange. One exchange per key at a time, shared by every
/// admission waiting on it. A key whose exchange failed backs off: admission is answered from the
/// failure until its retry time, while the refresher (<see cref="RenewAsync"/>) may still try it.
/// </summary>
public sealed class PullSecretProvisioner(
    ManagedSecretCache cache,
    PullSecretStore store,
    TokenMinter minter,
    TimeProvider time,
    IOptions<TokenOptions> options,
    QuayMetrics metrics,
    IHostApplicationLifetime lifetime,
    ILogger<PullSecretProvisioner> logger,
    IServiceAccountUids serviceAccounts) : ITokenRenewer
{
    private const int MaxWriteAttempts = 3;

    private readonly ConcurrentDictionary<PullSecretKey, Task<TokenStatus>> inflight = new();
    private readonly TokenOptions settings = options.Value;
    private readonly ExchangeBackoff failures = new(time, options.Value);

    /// <summary>Waits at most <paramref name="budget"/>; the work goes on past it and lands in the Secret.</summary>
    public async Task<TokenStatus> EnsureAsync(PullSecretKey key, TimeSpan budget, CancellationToken ct)
    {
        // The watch keeps the cache current on every replica: a deleted Secret is a miss, one another replica renewed a hit.
        var known = Cached(key);
        var hit = known is { } expiresAt && IsFresh(expiresAt);
        metrics.CacheLookup(hit);
        if (hit)
            return new TokenStatus.Ready(known!.Value, FromCache: true);

        // A key that just failed is answered from that failure: no TokenRequest, no Quay call.
        if (failures.Current(key) is { } backingOff)
            return backingOff;

        try
        {
            return await StartOrJoin(key, IsFresh).WaitAsync(budget, time, ct);
        }
        catch (TimeoutException)
        {
            // The renewal goes on in the background; a token that still works is better than none.
            return known is { } stillValid && stillValid > time.GetUtcNow()
                ? new TokenStatus.Ready(stillValid, RenewalError: "renewal still in progress")
                : new TokenStatus.Unavailable($"no token within {budget.TotalSeconds:0.#} s", Refused: false);
        }
    }

    /// <summary>
    /// For the refresher: renews unless the stored token lasts past <paramref name="renewIfExpiringBefore"/>.
    /// Returns once the Secret is written or the attempt failed; joins an admission's exchange for the same key.
    /// It ignores admission's backoff (the refresher keeps its own schedule), and its success ends it.
    /// </summary>
    public Task<TokenStatus> RenewAsync(PullSecretKey key, DateTimeOffset renewIfExpiringBefore) =>
        StartOrJoin(key, expiresAt => expiresAt >= renewIfExpiringBefore);

    private bool IsFresh(DateTimeOffset expiresAt) => expiresAt - time.GetUtcNow() >= settings.MinRemaining;

    /// <summary>For tests: an attempt for the key is running; once it is not, its outcome is in the backoff.</summary>
    internal bool InFlight(PullSecretKey key) => inflight.ContainsKey(key);

    private Task<TokenStatus> StartOrJoin(PullSecretKey key, Func<DateTimeOffset, bool> goodEnough)
    {
        var mine = new TaskCompletionSource<TokenStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = inflight.GetOrAdd(key, mine.Task);
        if (shared == mine.Task)
            _ = RunAsync(key, goodEnough, mine);
        return shared;
    }

    private async Task RunAsync(PullSecretKey key, Func<DateTimeOffset, bool> goodEnough, TaskCompletionSource<TokenStatus> completion)
    {
        // The work belongs to no single admission: it must outlive a caller that gave up, and stop with the process.
        var ct = lifetime.ApplicationStopping;
        TokenStatus status;
        try
        {
            status = await ProvisionAsync(key, goodEnough, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var reason = e is TokenExchangeException ? e.Message : $"Kubernetes API: {KubernetesErrors.Describe(e)}";
            PullSecretLog.ProvisionFailed(logger, key.Namespace, key.SecretName, key.Robot, reason);
            status = new TokenStatus.Unavailable(reason, Refused: false);
        }
        catch (OperationCanceledException)
        {
            status = new TokenStatus.Unavailable("shutting down", Refused: false);
        }
        if (!ct.IsCancellationRequested)
            status = failures.Record(key, status);
        inflight.TryRemove(KeyValuePair.Create(key, completion.Task));
        completion.SetResult(status);
    }

    private async Task<TokenStatus> ProvisionAsync(PullSecretKey key, Func<DateTimeOffset, bool> goodEnough, CancellationToken ct)
    {
        var stored = await store.GetAsync(key.Namespace, key.SecretName, ct);
        var storedExpiry = stored is null ? null : PullSecretManifest.ExpiresAt(stored);
        if (storedExpiry is { } valid && goodEnough(valid))
            return Remember(stored!, valid);

        var owner = OwnerUidAsync(key, ct);
        var mint = minter.MintAsync(key, ct);
        if (stored is null && !await FinishesWithin(mint, settings.InlineBudget, ct))
        {
            // Admission has moved on with the name; a placeholder lets the refresher find the key if we fail.
            stored = await CreatePlaceholderAsync(key, await owner, ct);
        }

        QuayToken? token = null;
        V1Secret written;
        try
        {
            token = await mint;
            written = await WriteAsync(key, stored, token, await owner, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var reason = e is TokenExchangeException ? e.Message : $"writing the Secret: {KubernetesErrors.Describe(e)}";
            if (storedExpiry is { } stillValid && stillValid > time.GetUtcNow())
            {
                PullSecretLog.RenewalFailedKeptToken(logger, key.Namespace, key.SecretName, key.Robot, reason, stillValid);
                return new TokenStatus.Ready(stillValid, RenewalError: reason);
            }
            if (e is not TokenExchangeException exchange)
                throw;
            if (stored is null)
                await TryCreatePlaceholderAsync(key, await owner, ct);
            PullSecretLog.ProvisionFailed(logger, key.Namespace, key.SecretName, key.Robot, reason);
            return new TokenStatus.Unavailable(reason, exchange.Refused, RetryAfter: exchange.RetryAfter);
        }

        var expiresAt = PullSecretManifest.ExpiresAt(written) ?? token.ExpiresAt;
        PullSecretLog.TokenWritten(logger, key.Namespace, key.SecretName, key.Robot, expiresAt, written.Metadata.ResourceVersion);
        return Remember(written, expiresAt);
    }

    private async Task<bool> FinishesWithin(Task work, TimeSpan limit, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var delay = Task.Delay(limit, time, timeout.Token);
        var first = await Task.WhenAny(work, delay);
        await timeout.CancelAsync();
        return first == work;
    }

    /// <summary>Writes the token, in place when the Secret exists; on a concurrent write, uses the winner's token if it is fresh.</summary>
    private async Task<V1Secret> WriteAsync(PullSecretKey key, V1Secret? stored, QuayToken token, string? ownerUid, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return stored is null
                    ? await store.CreateAsync(PullSecretManifest.Build(key, token, ownerUid), ct)
                    : await store.PatchAsync(key.Namespace, key.SecretName, PullSecretManifest.Patch(stored, key, token, ownerUid), ct);
            }
            catch (SecretConflictException) when (attempt < MaxWriteAttempts)
            {
                stored = await store.GetAsync(key.Namespace, key.SecretName, ct);
                if (stored is not null && PullSecretManifest.ExpiresAt(stored) is { } theirs && IsFresh(theirs))
                    return stored;
            }
        }
    }

    private async Task<V1Secret> CreatePlaceholderAsync(PullSecretKey key, string? ownerUid, CancellationToken ct)
    {
        try
        {
            var created = await store.CreateAsync(PullSecretManifest.Build(key, token: null, ownerUid), ct);
            PullSecretLog.PlaceholderCreated(logger, key.Namespace, key.SecretName, key.Robot);
            return created;
        }
        catch (SecretConflictException)
        {
            return await store.GetAsync(key.Namespace, key.SecretName, ct)
                ?? throw new TokenExchangeException($"Secret {key.Namespace}/{key.SecretName} keeps changing");
        }
    }

    /// <summary>After a failed exchange the placeholder is a courtesy: its own failure must not hide the exchange's reason.</summary>
    private async Task TryCreatePlaceholderAsync(PullSecretKey key, string? ownerUid, CancellationToken ct)
    {
        try
        {
            await CreatePlaceholderAsync(key, ownerUid, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            PullSecretLog.PlaceholderFailed(logger, key.Namespace, key.SecretName, KubernetesErrors.Describe(e));
        }
    }

    /// <summary>The expiry the cache holds for the key's Secret, if that Secret carries this key's annotations.</summary>
    private DateTimeOffset? Cached(PullSecretKey key) =>
        cache.Get(key.Namespace, key.SecretName) is { ExpiresAt: { } expiresAt } secret
        && secret.ServiceAccount == key.ServiceAccount && secret.Robot == key.Robot
        && string.Equals(secret.Registry, key.RegistryHost, StringComparison.OrdinalIgnoreCase)
            ? expiresAt
            : null;

    /// <summary>
    /// The ServiceAccount's uid for the Secret's ownerReference, from the annotation cache admission has usually
    /// filled already; null when it cannot be read in time (the Secret is then written without, and a later write adds it).
    /// </summary>
    private Task<string?> OwnerUidAsync(PullSecretKey key, CancellationToken ct) =>
        serviceAccounts.UidAsync(key.Namespace, key.ServiceAccount, settings.InlineBudget, ct);

    private TokenStatus.Ready Remember(V1Secret written, DateTimeOffset expiresAt)
    {
        cache.Remember(written);
        return new TokenStatus.Ready(expiresAt);
    }
}

/// <summary>The provisioner's renewal as the refresher calls it: the seam its reconciler is tested through.</summary>
public interface ITokenRenewer
{
    /// <inheritdoc cref="PullSecretProvisioner.RenewAsync"/>
    Task<TokenStatus> RenewAsync(PullSecretKey key, DateTimeOffset renewIfExpiringBefore);
}
