using QuayAdmission.CredentialProvider.Configuration;
using QuayAdmission.CredentialProvider.Protocol;
using QuayAdmission.Quay;
using QuayAdmission.Robots;

namespace QuayAdmission.CredentialProvider.Credentials;

/// <summary>
/// One kubelet request answered: the image's registry must be configured, the ServiceAccount's
/// annotation names the robot for it, and the kubelet's token is exchanged at that registry's Quay
/// exactly as the webhook exchanges it.
/// </summary>
public sealed class PullCredentials(ProviderSettings settings, QuayFederationClient quay, TimeProvider time)
{
    public async Task<CredentialProviderResponse> ResolveAsync(CredentialProviderRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var hosts = settings.Quay.Hosts;
        var imageHost = ImageReference.RegistryHost(request.Image!);
        var registry = settings.Quay.Registries.FirstOrDefault(r => string.Equals(r.Host, imageHost, StringComparison.OrdinalIgnoreCase))
            ?? throw new CredentialProviderException(
                $"image registry {OneLine.Quote(imageHost)} is not one of the configured registries ({string.Join(", ", hosts)})");

        if (request.ServiceAccountAnnotations?.GetValueOrDefault(WellKnown.RobotAccountAnnotation) is not { } annotation)
            return new CredentialProviderResponse();
        if (!RobotReferenceParser.TryParse(annotation, hosts, out var references, out var error))
            throw new CredentialProviderException($"ServiceAccount {error!.Message}");

        var robots = references.Where(r => r.RegistryHost == registry.Host).Select(r => r.Robot).ToList();
        if (robots.Count == 0)
            return new CredentialProviderResponse();
        if (robots.Count > 1)
            throw new CredentialProviderException(
                $"ServiceAccount annotation {WellKnown.RobotAccountAnnotation} names {robots.Count} robots for {registry.Host} ({string.Join(", ", robots)}); the kubelet takes one credential per registry");

        var jwt = request.ServiceAccountToken!;
        var audiences = ServiceAccountToken.Audiences(jwt);
        // The kubelet mints the token for the provider's one serviceAccountTokenAudience; it goes only to a registry that expects it.
        if (!audiences.Contains(registry.EffectiveAudience, StringComparer.Ordinal))
            throw new CredentialProviderException(
                $"the ServiceAccount token is for audience {OneLine.Quote(string.Join(",", audiences))}, not {OneLine.Quote(registry.EffectiveAudience)} (the Audience of {registry.Host}): set tokenAttributes.serviceAccountTokenAudience to it");

        var token = await quay.ExchangeAsync(registry, robots[0], jwt, ct);
        return new CredentialProviderResponse
        {
            CacheDuration = GoDuration.Format(token.ExpiresAt - time.GetUtcNow() - settings.Provider.MinRemaining),
            Auth = new() { [registry.Host] = new AuthConfig(robots[0], token.Token) },
        };
    }
}
