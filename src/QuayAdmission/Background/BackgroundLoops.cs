using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes;
using QuayAdmission.Observability;

namespace QuayAdmission.Background;

/// <summary>
/// The one way long-running work runs here. A loop's body is restarted after anything that is not
/// this process's shutdown — a client timeout (<see cref="TaskCanceledException"/>), a refused
/// connection, a bug — with exponential backoff and jitter. The log speaks once per change of
/// state, not once per retry; metrics count every fault and keep the time of the last success.
/// </summary>
/// <param name="lifetime">When given, loops start once the host has started (see <see cref="RunAsync"/>).</param>
public sealed class BackgroundLoops(
    QuayMetrics metrics, IOptions<BackgroundOptions> options, TimeProvider time, ILogger<BackgroundLoops> logger, IHostApplicationLifetime? lifetime = null)
{
    private readonly BackgroundOptions settings = options.Value;
    private readonly ConcurrentDictionary<string, LoopProgress> loops = new(StringComparer.Ordinal);

    /// <summary>The progress handle of a loop, created on first use; also how health checks read a loop.</summary>
    public LoopProgress Progress(string loop) => loops.GetOrAdd(loop, name => new LoopProgress(name, metrics, time, logger));

    /// <summary>
    /// Runs <paramref name="body"/> until <paramref name="stopping"/> is cancelled, and never throws.
    /// A body that returns is started again; one that returns without having reported progress
    /// counts as a fault, so a stream the server closes at once cannot turn into a busy loop.
    /// </summary>
    public async Task RunAsync(string loop, Func<LoopProgress, CancellationToken, Task> body, CancellationToken stopping)
    {
        var progress = Progress(loop);
        // Lists, watches and the Lease wait until the server listens: on two cores they would
        // otherwise take the CPU from the start to readiness (make bench), and a process that fails
        // to start makes no API call.
        if (!await StartedAsync(stopping))
            return;
        while (!stopping.IsCancellationRequested)
        {
            var round = progress.Successes;
            try
            {
                await body(progress, stopping);
                if (progress.Successes == round)
                    throw new LoopEndedException();
                continue;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                progress.Failed(e);
            }

            try
            {
                await Task.Delay(new Backoff(settings.BackoffBase, settings.BackoffMax).Delay(progress.ConsecutiveFailures), time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<bool> StartedAsync(CancellationToken stopping)
    {
        if (lifetime is null || lifetime.ApplicationStarted.IsCancellationRequested)
            return !stopping.IsCancellationRequested;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stopping.Register(() => started.TrySetCanceled(stopping)))
        {
            try
            {
                await started.Task;
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    private sealed class LoopEndedException() : Exception("ended without making progress");
}

/// <summary>What one loop reports: successes move its last-success time, faults are counted and logged on change.</summary>
public sealed class LoopProgress
{
    private readonly string loop;
    private readonly QuayMetrics metrics;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Lock gate = new();
    private string? failing;
    private int consecutiveFailures;
    private long successes;
    private DateTimeOffset? lastSuccess;

    internal LoopProgress(string loop, QuayMetrics metrics, TimeProvider time, ILogger logger)
    {
        this.loop = loop;
        this.metrics = metrics;
        this.time = time;
        this.logger = logger;
        metrics.TrackLoop(loop, () => LastSuccess);
    }

    public DateTimeOffset? LastSuccess
    {
        get
        {
            lock (gate)
                return lastSuccess;
        }
    }

    /// <summary>True while the last thing the loop reported was a fault.</summary>
    public bool IsFailing
    {
        get
        {
            lock (gate)
                return failing is not null;
        }
    }

    internal int ConsecutiveFailures
    {
        get
        {
            lock (gate)
                return consecutiveFailures;
        }
    }

    internal long Successes => Interlocked.Read(ref successes);

    public void Succeeded()
    {
        string? recovered;
        lock (gate)
        {
            recovered = failing;
            failing = null;
            consecutiveFailures = 0;
            lastSuccess = time.GetUtcNow();
        }
        Interlocked.Increment(ref successes);
        if (recovered is not null)
            BackgroundLog.Recovered(logger, loop);
    }

    /// <summary>Records a fault the loop handled itself (or the supervisor caught). Never carries a response body or a token.</summary>
    public void Failed(Exception e)
    {
        var description = KubernetesErrors.Describe(e);
        bool changed;
        int failures;
        lock (gate)
        {
            changed = failing != description;
            failing = description;
            failures = ++consecutiveFailures;
        }
        metrics.BackgroundError(loop);
        if (changed)
            BackgroundLog.Failing(logger, loop, description, failures);
    }
}

internal static partial class BackgroundLog
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Background loop {Loop} is failing: {Error} (retrying with backoff; logged again only when the error changes or it recovers; {Failures} in a row)")]
    public static partial void Failing(ILogger logger, string loop, string error, int failures);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Background loop {Loop} recovered")]
    public static partial void Recovered(ILogger logger, string loop);
}
