using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Security.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
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
using QuayAdmission.Robots;
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
        services.AddOptions<RobotOptions>().BindConfiguration(RobotOptions.Section).ValidateWith<RobotOptions, RobotOptionsValidator>();
        services.AddOptions<RefresherOptions>().BindConfiguration(RefresherOptions.Section).ValidateWith<RefresherOptions, RefresherOptionsValidator>();
        services.AddOptions<BackgroundOptions>().BindConfiguration(BackgroundOptions.Section).ValidateWith<BackgroundOptions, BackgroundOptionsValidator>();
        services.AddOptions<NamespaceOptions>().BindConfiguration(NamespaceOptions.Section).ValidateWith<NamespaceOptions, NamespaceOptionsValidator>();
        services.AddOptions<NamespaceOptions>().Configure<IConfiguration>((options, configuration) =>
            options.OwnNamespace = configuration[NamespaceOptions.PodNamespaceVariable] is { Length: > 0 } own ? own : options.OwnNamespace);

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
        services.AddSingleton<AnnotationReader>();
        services.AddSingleton<IServiceAccountUids>(sp => sp.GetRequiredService<AnnotationReader>());
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
        services.AddSingleton(sp => new BodyBudget(sp.GetRequiredService<IOptions<ServerOptions>>().Value.MaxBodyBytesInFlight));
        services.AddRefresher();

        services.AddSingleton<ServingCertificate>();
        services.AddHostedService(sp => sp.GetRequiredService<ServingCertificate>());
        services.AddSingleton<ClientCertificateAuthority>();
        services.AddHostedService(sp => sp.GetRequiredService<ClientCertificateAuthority>());

        services.AddOptions<HostOptions>().Configure<IOptions<ServerOptions>>((host, server) => host.ShutdownTimeout = server.Value.ShutdownTimeout);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServerOptions>, ServingCertificate, ClientCertificateAuthority>(ConfigureKestrel);
        services.AddOptions<SocketTransportOptions>().Configure(socket => socket.MaxReadBufferSize = ServerOptions.ConnectionInputBytes);
        return builder;
    }

    /// <summary>
    /// The refresher: its controller, and a reconciler per leadership term over that term's Pod
    /// index, reaching the provisioner, the Secret store, Pod lists and events through their seams.
    /// </summary>
    private static void AddRefresher(this IServiceCollection services)
    {
        services.AddSingleton<ITokenRenewer>(sp => sp.GetRequiredService<PullSecretProvisioner>());
        services.AddSingleton<ISecretDeleter>(sp => sp.GetRequiredService<PullSecretStore>());
        services.AddSingleton<IPodLister>(sp => sp.GetRequiredService<KubernetesApi>());
        services.AddSingleton<IEventRecorder>(sp => sp.GetRequiredService<EventRecorder>());
        services.AddSingleton(sp => new TenantInput(sp.GetRequiredService<RobotPolicy>(), sp.GetRequiredService<IOptions<QuayOptions>>().Value.Hosts));
        services.AddSingleton<Func<PodIndex, IReconciler>>(sp => index => ActivatorUtilities.CreateInstance<SecretReconciler>(sp, index));
        services.AddSingleton<RefreshController>();
        services.AddHostedService(sp => sp.GetRequiredService<RefreshController>());
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (ServingCertificate certificate, ClientCertificateAuthority clients) =>
            (certificate.Current, clients) switch
            {
                (null, _) => Results.Text("no serving certificate loaded\n", statusCode: StatusCodes.Status503ServiceUnavailable),
                (_, { Required: true, Current: null }) => Results.Text("no client CA loaded\n", statusCode: StatusCodes.Status503ServiceUnavailable),
                _ => Results.Text("ok\n"),
            });
        return app;
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, IOptions<ServerOptions> options, ServingCertificate certificate, ClientCertificateAuthority clients)
    {
        var server = options.Value;
        var address = IPAddress.Parse(server.BindAddress);
        kestrel.AddServerHeader = false;
        var limits = kestrel.Limits;
        limits.MaxConcurrentConnections = server.MaxConcurrentConnections;
        limits.RequestHeadersTimeout = server.RequestHeadersTimeout;
        // A backstop only: /mutate answers 413 itself at MaxBodyBytes, with a readable reason.
        limits.MaxRequestBodySize = 2L * AdmissionEndpoint.MaxBodyBytes;
        limits.MinRequestBodyDataRate = new MinDataRate(server.MinBodyBytesPerSecond, server.BodyGracePeriod);
        limits.MaxRequestBufferSize = ServerOptions.ConnectionInputBytes;
        limits.Http2.InitialConnectionWindowSize = ServerOptions.ConnectionInputBytes;
        limits.Http2.InitialStreamWindowSize = ServerOptions.ConnectionInputBytes;
        kestrel.Listen(address, server.HttpsPort, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(https =>
            {
                https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                // Asked on every handshake, so a reloaded certificate applies to the next connection.
                https.ServerCertificateSelector = (_, _) => certificate.Current;
                if (clients.Required)
                {
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    https.ClientCertificateValidation = (presented, chain, _) => clients.Accepts(presented, chain);
                }
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
