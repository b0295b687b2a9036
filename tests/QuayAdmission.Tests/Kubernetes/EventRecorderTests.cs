using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Kubernetes;

public sealed class EventRecorderTests
{
    [Fact]
    public async Task A_burst_of_failing_admissions_records_one_warning_on_the_service_account()
    {
        await using var host = await WebhookHost.StartAsync();
        host.Trust("acme+puller");
        host.Quay.Behaviour = QuayBehaviour.Status(500, """{"error":"down"}""");

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => host.AdmitAsync(Pods.Json(name: $"web-{i}"))));
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Events.Count > 0));
        var warning = Assert.Single(host.Kube.Events);
        Assert.Equal("Warning", warning.Type);
        Assert.Equal("QuayTokenUnavailable", warning.Reason);
        Assert.Equal(("ServiceAccount", "team-a", "default"), (warning.InvolvedObject.Kind, warning.InvolvedObject.NamespaceProperty, warning.InvolvedObject.Name));
        Assert.Contains("acme+puller", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Quay answered 500", warning.Message, StringComparison.Ordinal);

        // Once the interval has passed, the next failure is recorded again.
        host.Time.Advance(TimeSpan.FromMinutes(11));
        await host.AdmitAsync(Pods.Json(name: "web-late"));
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Events.Count == 2));
    }

    [Fact]
    public async Task Dry_runs_record_nothing()
    {
        await using var host = await WebhookHost.StartAsync();
        host.Quay.Behaviour = QuayBehaviour.Status(500, """{"error":"down"}""");
        await host.AdmitAsync(Pods.Json(), dryRun: true);
        await host.AdmitAsync(Pods.Json(robotAccount: null)); // a later review, so anything queued would have been sent
        Assert.Empty(host.Kube.Events);
    }
}
