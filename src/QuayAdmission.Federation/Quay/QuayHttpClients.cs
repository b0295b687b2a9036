using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Quay;

/// <summary>
/// One long-lived HttpClient per configured registry, each trusting that registry's CaFile and
/// nothing else extra: a private CA for one Quay must not vouch for another host.
/// </summary>
public sealed class QuayHttpClients : IDisposable
{
    private readonly Dictionary<string, HttpClient> clients = new(StringComparer.OrdinalIgnoreCase);

    public QuayHttpClients(IOptions<QuayOptions> options)
    {
        var settings = options.Value;
        foreach (var registry in settings.Registries)
        {
            var handler = new SocketsHttpHandler
            {
                // Renew connections now and then so a Quay behind changing DNS is followed.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                MaxConnectionsPerServer = settings.MaxConcurrentExchanges,
                ConnectTimeout = settings.ExchangeTimeout,
                AllowAutoRedirect = false,
            };
            if (!string.IsNullOrEmpty(registry.CaFile))
                handler.SslOptions.RemoteCertificateValidationCallback = TrustAlso(LoadPem(registry.CaFile));
            // A token answer is a few KiB; a larger body is not Quay talking to us.
            clients[registry.Host] = new HttpClient(handler) { Timeout = settings.ExchangeTimeout, MaxResponseContentBufferSize = 64 * 1024 };
        }
    }

    public HttpClient For(RegistryOptions registry) => clients[registry.Host];

    public void Dispose()
    {
        foreach (var client in clients.Values)
            client.Dispose();
    }

    private static X509Certificate2Collection LoadPem(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        return certificates;
    }

    private static RemoteCertificateValidationCallback TrustAlso(X509Certificate2Collection roots) =>
        (_, certificate, _, errors) =>
        {
            if (errors == SslPolicyErrors.None)
                return true;
            // Only a chain that fails the system roots may be rescued by the registry's CA; a wrong name never is.
            if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
                return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
}
