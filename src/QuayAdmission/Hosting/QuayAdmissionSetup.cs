using System.Diagnostics.CodeAnalysis;
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
        services.AddOptions<QuayOptions>().BindConfiguration(QuayOptions.Section).ValidateWith<QuayOptions, QuayOptionsValidator>();
        services.AddOptions<TokenOptions>().BindConfiguration(TokenOptions.Section).ValidateWith<TokenOptions, TokenOptionsValidator>();
        services.AddOptions<TlsOptions>().BindConfiguration(TlsOptions.Section).ValidateWith<TlsOptions, TlsOptionsValidator>();
        services.AddOptions<ServerOptions>().BindConfiguration(ServerOptions.Section).ValidateWith<ServerOptions, ServerOptionsValidator>();
        services.AddOptions<ScopeOptions>().BindConfiguration(ScopeOptions.Section).ValidateWith<ScopeOptions, ScopeOptionsValidator>();
        services.AddOptions<RefresherOptions>().BindConfiguration(RefresherOptions.Section).ValidateWith<RefresherOptions, RefresherOptionsValidator>();
        services.AddOptions<BackgroundOptions>().BindConfiguration(BackgroundOptions.Section).ValidateWith<BackgroundOptions, BackgroundOptionsValidator>();

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

    /// <summary>Validated when the host starts. The binding itself stays at the call site, where the binder's source generator can see the concrete type.</summary>
    private static void ValidateWith<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions,
        [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TValidator>(this OptionsBuilder<TOptions> options)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        options.ValidateOnStart();
        options.Services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
    }

    /// <summary>MemoryCache keeps its own clock; this one follows the TimeProvider, so tests can move it.</summary>
    private sealed class TimeProviderClock(TimeProvider time) : Microsoft.Extensions.Internal.ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}
