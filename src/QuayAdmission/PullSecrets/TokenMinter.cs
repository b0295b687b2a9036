using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.Quay;

namespace QuayAdmission.PullSecrets;

/// <summary>The whole exchange for one key: a ServiceAccount token for the registry's audience, traded at Quay.</summary>
public sealed class TokenMinter(ServiceAccountTokens serviceAccountTokens, QuayFederationClient quay, IOptions<QuayOptions> options) : IDisposable
{
    private readonly SemaphoreSlim exchanges = new(options.Value.MaxConcurrentExchanges);

    public async Task<QuayToken> MintAsync(PullSecretKey key, CancellationToken ct)
    {
        var registry = options.Value.Registries.FirstOrDefault(r => string.Equals(r.Host, key.RegistryHost, StringComparison.OrdinalIgnoreCase))
            ?? throw new TokenExchangeException($"registry {key.RegistryHost} is no longer configured", refused: true);

        await exchanges.WaitAsync(ct);
        try
        {
            var jwt = await serviceAccountTokens.RequestAsync(key.Namespace, key.ServiceAccount, registry.EffectiveAudience, ct);
            return await quay.ExchangeAsync(registry, key.Robot, jwt, ct);
        }
        finally
        {
            exchanges.Release();
        }
    }

    public void Dispose() => exchanges.Dispose();
}
