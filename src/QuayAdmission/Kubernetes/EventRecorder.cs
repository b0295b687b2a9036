using System.Threading.Channels;
using k8s.Models;
using QuayAdmission.Background;

namespace QuayAdmission.Kubernetes;

/// <summary>
/// Kubernetes Events about the objects we act for. Recording never waits on the API (a bounded
/// queue, dropped when full), and each (object, reason) is recorded at most once per
/// <see cref="Interval"/>, so a burst of Pods or a retry loop does not flood the API.
/// </summary>
public sealed class EventRecorder(KubernetesApi api, BackgroundLoops loops, TimeProvider time) : BackgroundService, IEventRecorder
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    private const string Component = "quay-admission";
    private const int MaxMessageLength = 1024;
    private const int MaxRemembered = 10_000;

    private readonly Channel<Corev1Event> queue = Channel.CreateBounded<Corev1Event>(
        new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Dictionary<(string Kind, string Namespace, string Name, string Reason), DateTimeOffset> lastRecorded = [];
    private readonly string instance = Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName;

    public void Warning(string kind, string ns, string name, string reason, string message) => Record(kind, ns, name, reason, message, "Warning");

    public void Normal(string kind, string ns, string name, string reason, string message) => Record(kind, ns, name, reason, message, "Normal");

    private void Record(string kind, string ns, string name, string reason, string message, string type)
    {
        var now = time.GetUtcNow();
        var key = (kind, ns, name, reason);
        // Check and mark at once: concurrent failures of one burst must agree on who records.
        lock (lastRecorded)
        {
            if (lastRecorded.TryGetValue(key, out var last) && now - last < Interval)
                return;
            lastRecorded[key] = now;
            if (lastRecorded.Count > MaxRemembered)
                Forget(now);
        }

        var at = now.UtcDateTime;
        queue.Writer.TryWrite(new Corev1Event
        {
            // Like client-go: the object's name and a unique suffix, within the 253 characters of a name.
            Metadata = new V1ObjectMeta { Name = $"{name[..Math.Min(name.Length, 230)]}.{Guid.NewGuid().ToString("N")[..16]}", NamespaceProperty = ns },
            InvolvedObject = new V1ObjectReference { ApiVersion = "v1", Kind = kind, NamespaceProperty = ns, Name = name },
            Type = type,
            Reason = reason,
            Message = message.Length <= MaxMessageLength ? message : message[..MaxMessageLength],
            Source = new V1EventSource { Component = Component },
            ReportingComponent = Component,
            ReportingInstance = instance,
            FirstTimestamp = at,
            LastTimestamp = at,
            Count = 1,
        });
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => loops.RunAsync("events", SendAsync, stoppingToken);

    private async Task SendAsync(LoopProgress progress, CancellationToken stoppingToken)
    {
        await foreach (var item in queue.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await api.CreateEventAsync(item, stoppingToken);
                progress.Succeeded();
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // An event is best effort: this one is dropped, the next one is tried.
                progress.Failed(e);
            }
        }
    }

    private void Forget(DateTimeOffset now)
    {
        foreach (var key in lastRecorded.Where(entry => now - entry.Value >= Interval).Select(entry => entry.Key).ToList())
            lastRecorded.Remove(key);
    }
}

/// <summary>Records Kubernetes Events on an object (<see cref="EventRecorder"/>); messages never carry a token.</summary>
public interface IEventRecorder
{
    void Warning(string kind, string ns, string name, string reason, string message);

    void Normal(string kind, string ns, string name, string reason, string message);
}
