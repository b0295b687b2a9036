using OpenTelemetry.Metrics;

namespace QuayAdmission.Observability;

public static class ObservabilitySetup
{
    public static IServiceCollection AddQuayMetrics(this IServiceCollection services)
    {
        services.AddSingleton<QuayMetrics>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(QuayMetrics.MeterName)
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }

    public static IEndpointRouteBuilder MapQuayMetrics(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
