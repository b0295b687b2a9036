using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.Observability;
using QuayAdmission.Quay;

namespace QuayAdmission.PullSecrets;

/// <summary>The whole exchange for one key: a ServiceAccount token for the registry's audience, traded at Quay.</summary>
public sealed class TokenMinter(
    ServiceAccountTokens serviceAccountTokens,
    QuayFederationClient quay,
    IOptions<QuayOptions> options,
    IOptions<TokenOptions> tokenOptions,
    QuayMetrics metrics,
    TimeProvider time) : IDisposable
{
    private readonly SemaphoreSlim exchanges = new(options.Value.MaxConcurrentExchanges);
    private readonly NamespaceShare namespaces = new(tokenOptions.Value.ExchangesPerNamespace(options.Value.MaxConcurrentExchanges));

    public async Task<QuayToken> MintAsync(PullSecretKey key, CancellationToken ct)
    {
        var registry = options.Value.Registries.FirstOrDefault(r => string.Equals(r.Host, key.RegistryHost, StringComparison.OrdinalIgnoreCase))
            ?? throw new TokenExchangeException($"registry {key.RegistryHost} is no longer configured", refused: true);

        // The namespace's share first: its queue forms there, not in front of the other namespaces.
        using var share = await namespaces.EnterAsync(key.Namespace, ct);
        await exchanges.WaitAsync(ct);
        var started = time.GetTimestamp();
        var result = "error";
        try
        {
            var jwt = await serviceAccountTokens.RequestAsync(key.Namespace, key.ServiceAccount, registry.EffectiveAudience, ct);
            var token = await quay.ExchangeAsync(registry, key.Robot, jwt, ct);
            result = "ok";
            return token;
        }
        catch (TokenExchangeException e) when (e.Refused)
        {
            result = "refused";
            throw;
        }
        finally
        {
            exchanges.Release();
            metrics.Exchange(registry.Host, result, time.GetElapsedTime(started));
        }
    }

    public void Dispose() => exchanges.Dispose();
}
