using k8s.Models;
using Microsoft.Extensions.Options;
using QuayAdmission.Background;
using QuayAdmission.Kubernetes;
using QuayAdmission.Kubernetes.Watching;
using QuayAdmission.Observability;

namespace QuayAdmission.PullSecrets;

/// <summary>
/// Every managed Secret, kept current by a watch on every replica: admission's token lookup reads
/// it (a deleted Secret is a miss within seconds, one renewed by another replica a hit), and the
/// refresher reconciles from it.
/// </summary>
public sealed class ManagedSecretCache : BackgroundService
{
    public const string Loop = "secret-watch";

    private readonly BackgroundLoops loops;
    private readonly Informer<V1Secret, ManagedSecret> informer;

    public ManagedSecretCache(KubernetesApi api, BackgroundLoops loops, IOptions<BackgroundOptions> options, QuayMetrics metrics, TimeProvider time)
    {
        this.loops = loops;
        informer = new Informer<V1Secret, ManagedSecret>(
            api, InformerSources.Secrets(PullSecretStore.ManagedSelector), ManagedSecret.From, options.Value.Informer, metrics, time);
    }

    /// <summary>(old, new) for every change; see <see cref="Informer{TObject, TItem}.Changed"/>.</summary>
    public event Action<ManagedSecret?, ManagedSecret?>? Changed
    {
        add => informer.Changed += value;
        remove => informer.Changed -= value;
    }

    public bool HasSynced => informer.HasSynced;

    public Task Synced => informer.Synced;

    public LoopProgress Progress => loops.Progress(Loop);

    public IEnumerable<ManagedSecret> Items => informer.Items;

    public ManagedSecret? Get(string ns, string name) => informer.Get(ns, name);

    /// <summary>A Secret this replica just wrote, visible to its own admissions before the watch brings it.</summary>
    public void Remember(V1Secret written) => informer.Remember(written);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync(Loop, informer.RunAsync, stoppingToken);
}
