using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Observability;

[Collection(SerialTests.Name)]
public sealed class MetricsTests
{
    [Fact]
    public async Task Metrics_count_admissions_exchanges_and_cache_lookups()
    {
        await using var host = await WebhookHost.StartAsync();
        host.Trust("acme+puller");
        await host.AdmitAsync(Pods.Json());                                 // miss, one exchange, patched
        await host.AdmitAsync(Pods.Json(name: "web-1"));                    // hit, patched
        await host.AdmitAsync(Pods.Json(robotAccount: "Bad+Name"));         // denied
        await host.AdmitAsync(Pods.Json(robotAccount: "acme+stranger"));    // refused by Quay: degraded

        using var health = host.Factory.CreateClient(); // plain http, as Prometheus scrapes the health port
        var text = await health.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var metrics = PrometheusText.Parse(text);

        Assert.Equal(2, metrics.Value("quay_admission_admissions_total", ("outcome", "patched")));
        Assert.Equal(1, metrics.Value("quay_admission_admissions_total", ("outcome", "denied")));
        Assert.Equal(1, metrics.Value("quay_admission_admissions_total", ("outcome", "patched-degraded")));
        Assert.Equal(2, metrics.Value("quay_admission_admission_duration_seconds_count", ("outcome", "patched")));
        Assert.Equal(1, metrics.Value("quay_admission_token_exchanges_total", ("registry", host.RegistryHost), ("result", "ok")));
        Assert.Equal(1, metrics.Value("quay_admission_token_exchanges_total", ("registry", host.RegistryHost), ("result", "refused")));
        Assert.Equal(2, metrics.Value("quay_admission_token_exchange_duration_seconds_count", ("registry", host.RegistryHost)));
        Assert.Equal(1, metrics.Value("quay_admission_cache_lookups_total", ("result", "hit")));
        Assert.Equal(2, metrics.Value("quay_admission_cache_lookups_total", ("result", "miss")));

        // Bounded labels: no pod, Secret or namespace names in any series.
        Assert.DoesNotContain("web-", text, StringComparison.Ordinal);
        Assert.DoesNotContain("quay-acme", text, StringComparison.Ordinal);
        Assert.DoesNotContain("team-a", text, StringComparison.Ordinal);
    }
}
