using System.Net;
using k8s.Models;
using QuayAdmission.Quay;

namespace QuayAdmission.Kubernetes;

/// <summary>Short-lived tokens of a pod's ServiceAccount, minted for one audience through the TokenRequest API.</summary>
public sealed class ServiceAccountTokens(KubernetesApi api)
{
    // The API's minimum: the token only has to live for one exchange.
    private const long ExpirationSeconds = 600;

    public async Task<string> RequestAsync(string ns, string serviceAccount, string audience, CancellationToken ct)
    {
        var request = new Authenticationv1TokenRequest
        {
            Spec = new V1TokenRequestSpec { Audiences = [audience], ExpirationSeconds = ExpirationSeconds },
        };
        try
        {
            var issued = await api.CreateTokenAsync(ns, serviceAccount, request, ct);
            return issued.Status?.Token is { Length: > 0 } token
                ? token
                : throw new TokenExchangeException($"TokenRequest for {ns}/{serviceAccount} returned no token");
        }
        catch (Exception e) when (e is not TokenExchangeException && !ct.IsCancellationRequested)
        {
            throw new TokenExchangeException(
                $"TokenRequest for ServiceAccount {ns}/{serviceAccount} failed: {KubernetesErrors.Describe(e)}",
                refused: e.IsStatus(HttpStatusCode.NotFound) || e.IsStatus(HttpStatusCode.Forbidden));
        }
    }
}
