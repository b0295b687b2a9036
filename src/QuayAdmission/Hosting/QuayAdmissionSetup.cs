using System.Net;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using QuayAdmission.Admission;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes;
using QuayAdmission.PullSecrets;
using QuayAdmission.Observability;
using QuayAdmission.Quay;
using QuayAdmission.Refresh;
using QuayAdmission.Scopes;
using QuayAdmission.Tls;

namespace QuayAdmission.Hosting;

/// <summary>The composition root: every service and listener the webhook runs with.</summary>
public static class QuayAdmissionSetup
{
    // One entry per (namespace, service account, registry, robot); a large cluster has thousands.
    private const long MaxCachedKeys = 100_000;

    public static WebApplicationBuilder AddQuayAdmission(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        AddValidatedOptions<QuayOptions, QuayOptionsValidator>(services, QuayOptions.Section);
        AddValidatedOptions<TokenOptions, TokenOptionsValidator>(services, TokenOptions.Section);
        AddValidatedOptions<TlsOptions, TlsOptionsValidator>(services, TlsOptions.Section);
        AddValidatedOptions<ServerOptions, ServerOptionsValidator>(services, ServerOptions.Section);
        AddValidatedOptions<ScopeOptions, ScopeOptionsValidator>(services, ScopeOptions.Section);
        AddValidatedOptions<RefresherOptions, RefresherOptionsValidator>(services, RefresherOptions.Section);
        AddValidatedOptions<BackgroundOptions, BackgroundOptionsValidator>(services, BackgroundOptions.Section);

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IMemoryCache>(sp => new MemoryCache(new MemoryCacheOptions
        {
            Clock = new TimeProviderClock(sp.GetRequiredService<TimeProvider>()),
            SizeLimit = MaxCachedKeys,
        }));

        services.AddQuayMetrics();
        services.AddSingleton<BackgroundLoops>();
        services.AddKubernetesClient();
        services.AddSingleton<EventRecorder>();
        services.AddHostedService(sp => sp.GetRequiredService<EventRecorder>());
        services.AddSingleton<ScopeReader>();
        services.AddSingleton<RobotPolicy>();
        services.AddSingleton<RobotResolver>();
        services.AddSingleton<QuayHttpClients>();
        services.AddSingleton<QuayFederationClient>();
        services.AddSingleton<TokenMinter>();
        services.AddSingleton<PullSecretStore>();
        services.AddSingleton<ManagedSecretCache>();
        services.AddHostedService(sp => sp.GetRequiredService<ManagedSecretCache>());
        services.AddSingleton<PullSecretProvisioner>();
        services.AddSingleton<PullSecretInjector>();
        services.AddSingleton<Refresher>();
        services.AddHostedService(sp => sp.GetRequiredService<Refresher>());

        services.AddSingleton<ServingCertificate>();
        services.AddHostedService(sp => sp.GetRequiredService<ServingCertificate>());

        services.AddOptions<HostOptions>().Configure<IOptions<ServerOptions>>((host, server) => host.ShutdownTimeout = server.Value.ShutdownTimeout);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServerOptions>, ServingCertificate>(ConfigureKestrel);
        return builder;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (ServingCertificate certificate) => certificate.Current is null
            ? Results.Text("no serving certificate loaded\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ok\n"));
        return app;
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, IOptions<ServerOptions> options, ServingCertificate certificate)
    {
        var server = options.Value;
        var address = IPAddress.Parse(server.BindAddress);
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxConcurrentConnections = server.MaxConcurrentConnections;
        kestrel.Limits.RequestHeadersTimeout = server.RequestHeadersTimeout;
        // A backstop only: /mutate answers 413 itself at MaxBodyBytes, with a readable reason.
        kestrel.Limits.MaxRequestBodySize = 2L * AdmissionEndpoint.MaxBodyBytes;
        kestrel.Listen(address, server.HttpsPort, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(https =>
            {
                https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                // Asked on every handshake, so a reloaded certificate applies to the next connection.
                https.ServerCertificateSelector = (_, _) => certificate.Current;
            });
        });
        kestrel.Listen(address, server.HealthPort, listen => listen.Protocols = HttpProtocols.Http1);
    }

    private static void AddValidatedOptions<TOptions, TValidator>(IServiceCollection services, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddOptions<TOptions>().BindConfiguration(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
    }

    /// <summary>MemoryCache keeps its own clock; this one follows the TimeProvider, so tests can move it.</summary>
    private sealed class TimeProviderClock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}
