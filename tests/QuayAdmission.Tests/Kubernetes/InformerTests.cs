using k8s;
using k8s.Models;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes.Watching;
using QuayAdmission.Observability;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Kubernetes;

public sealed class InformerTests
{
    [Fact]
    public async Task Lists_then_watches_changes()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var kube = await FakeKubernetesApi.StartAsync(time);
        kube.PutSecret(Secret("a"));
        using var client = new k8s.Kubernetes(kube.ClientConfiguration());
        using var meters = new System.Diagnostics.Metrics.Meter("x");
        var metrics = new QuayMetrics(new TestMeterFactory());
        var loops = new BackgroundLoops(metrics, Options.Create(new BackgroundOptions()), time, NullLogger<BackgroundLoops>.Instance);
        var informer = new Informer<V1Secret, ManagedSecret>(client, InformerSources.Secrets(PullSecretStore.ManagedSelector), ManagedSecret.From, InformerSettings.Default, metrics, time);
        using var stop = new CancellationTokenSource();
        var run = loops.RunAsync("t", informer.RunAsync, stop.Token);
        Assert.True(await Eventually.TrueAsync(() => informer.HasSynced));
        Assert.NotNull(informer.Get("team-a", "a"));
        kube.PutSecret(Secret("b"));
        Assert.True(await Eventually.TrueAsync(() => informer.Get("team-a", "b") is not null), string.Join("\n", kube.Requests.Select(r => r.Operation + " " + r.Query)) + loops.Progress("t").IsFailing);
        await stop.CancelAsync();
        await run;
    }

    private static V1Secret Secret(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "team-a", Labels = new Dictionary<string, string> { [WellKnown.ManagedByLabel] = WellKnown.ManagedByValue } },
        Type = WellKnown.DockerConfigJsonType,
    };

    private sealed class TestMeterFactory : System.Diagnostics.Metrics.IMeterFactory
    {
        private readonly List<System.Diagnostics.Metrics.Meter> meters = [];

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter(options);
            meters.Add(meter);
            return meter;
        }

        public void Dispose() => meters.ForEach(m => m.Dispose());
    }
}
