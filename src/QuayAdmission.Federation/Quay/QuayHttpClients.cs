using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Quay;

/// <summary>
/// One long-lived HttpClient per configured registry, each trusting that registry's CaFile and
/// nothing else extra: a private CA for one Quay must not vouch for another host.
/// </summary>
public sealed partial class QuayHttpClients : IDisposable
{
    // A token answer is a few KiB; a larger body is not Quay talking to us.
    public const int MaxResponseBytes = 64 * 1024;

    private readonly Dictionary<string, HttpClient> clients = new(StringComparer.OrdinalIgnoreCase);

    public QuayHttpClients(IOptions<QuayOptions> options, ILogger<QuayHttpClients> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = options.Value;
        foreach (var registry in settings.Registries)
        {
            if (registry.IsInsecure)
                InsecureRegistry(logger, registry.Host, registry.EffectiveFederationUrl);
            var handler = new SocketsHttpHandler
            {
                // Renew connections now and then so a Quay behind changing DNS is followed.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                MaxConnectionsPerServer = settings.MaxConcurrentExchanges,
                ConnectTimeout = settings.ExchangeTimeout,
                // A redirect could carry the ServiceAccount token to a host nobody allow-listed.
                AllowAutoRedirect = false,
            };
            if (!string.IsNullOrEmpty(registry.CaFile))
                handler.SslOptions.CertificateChainPolicy = RegistryTrust.ChainPolicy(registry.CaFile);
            clients[registry.Host] = new HttpClient(handler) { Timeout = settings.ExchangeTimeout, MaxResponseContentBufferSize = MaxResponseBytes };
        }
    }

    public HttpClient For(RegistryOptions registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return clients[registry.Host];
    }

    public void Dispose()
    {
        foreach (var client in clients.Values)
            client.Dispose();
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning,
        Message = "INSECURE: registry {Host} is reached over plain http ({FederationUrl}): ServiceAccount tokens travel in clear text. AllowInsecureHttp is for local testing only")]
    private static partial void InsecureRegistry(ILogger logger, string host, Uri federationUrl);
}
