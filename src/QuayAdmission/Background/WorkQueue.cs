namespace QuayAdmission.Background;

/// <summary>
/// client-go's rate-limited work queue in small: a key waits in the queue at most once, no two
/// workers hold the same key (a key added while it is being worked on runs again afterwards),
/// a key can be due later (<see cref="AddAfter"/>), and failures back off per key, exponentially
/// with jitter, until <see cref="Forget"/>. Time is the <see cref="TimeProvider"/>'s.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "client-go's name for it: readers of controllers know it as the work queue")]
public sealed class WorkQueue(TimeProvider time, TimeSpan backoffBase, TimeSpan backoffMax)
{
    private readonly Lock gate = new();
    private readonly PriorityQueue<string, DateTimeOffset> waiting = new();
    private readonly Dictionary<string, DateTimeOffset> dueAt = new(StringComparer.Ordinal);
    private readonly Queue<string> ready = new();
    private readonly HashSet<string> readySet = new(StringComparer.Ordinal);
    private readonly HashSet<string> processing = new(StringComparer.Ordinal);
    private readonly HashSet<string> again = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> failures = new(StringComparer.Ordinal);
    private TaskCompletionSource added = NewSignal();

    /// <summary>Keys due now and not yet taken: the queue depth a metric reports.</summary>
    public int Depth
    {
        get
        {
            var now = time.GetUtcNow();
            lock (gate)
                return ready.Count + dueAt.Values.Count(at => at <= now);
        }
    }

    /// <summary>True when nothing is due or being worked on (keys due later may wait).</summary>
    public bool IsIdle
    {
        get
        {
            var now = time.GetUtcNow();
            lock (gate)
                return ready.Count == 0 && processing.Count == 0 && again.Count == 0 && !dueAt.Values.Any(at => at <= now);
        }
    }

    /// <summary>Makes <paramref name="key"/> due now, unless it is backing off after a failure: then it keeps its turn.</summary>
    public void Add(string key)
    {
        lock (gate)
        {
            if (failures.ContainsKey(key) && dueAt.ContainsKey(key))
                return;
        }
        AddAfter(key, TimeSpan.Zero);
    }

    /// <summary>Makes <paramref name="key"/> due after <paramref name="delay"/>, unless it is due sooner already.</summary>
    public void AddAfter(string key, TimeSpan delay)
    {
        var at = time.GetUtcNow() + (delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
        lock (gate)
        {
            if (readySet.Contains(key) || (dueAt.TryGetValue(key, out var existing) && existing <= at))
                return;
            dueAt[key] = at;
            waiting.Enqueue(key, at);
        }
        Signal();
    }

    /// <summary>
    /// Adds <paramref name="key"/> after its next backoff, or after <paramref name="atLeast"/> when that is
    /// longer (a Retry-After the other side asked for); returns how many failures in a row it has had.
    /// </summary>
    public int AddRateLimited(string key, TimeSpan? atLeast = null)
    {
        int count;
        lock (gate)
            failures[key] = count = failures.GetValueOrDefault(key) + 1;
        var delay = new Backoff(backoffBase, backoffMax).Delay(count);
        AddAfter(key, atLeast > delay ? atLeast.Value : delay);
        return count;
    }

    public void Forget(string key)
    {
        lock (gate)
            failures.Remove(key);
    }

    /// <summary>Waits for a due key and marks it as being worked on; call <see cref="Done"/> with it afterwards.</summary>
    public async Task<string> TakeAsync(CancellationToken ct)
    {
        while (true)
        {
            Task signal;
            TimeSpan? wait;
            lock (gate)
            {
                Promote(time.GetUtcNow());
                if (ready.TryDequeue(out var key))
                {
                    readySet.Remove(key);
                    processing.Add(key);
                    return key;
                }
                signal = added.Task;
                wait = waiting.TryPeek(out _, out var next) ? next - time.GetUtcNow() : null;
            }

            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var delay = wait is { } d ? Task.Delay(d > TimeSpan.Zero ? d : TimeSpan.Zero, time, cancel.Token) : Task.Delay(Timeout.Infinite, cancel.Token);
            await Task.WhenAny(signal, delay);
            await cancel.CancelAsync();
            ct.ThrowIfCancellationRequested();
        }
    }

    public void Done(string key)
    {
        bool requeued;
        lock (gate)
        {
            processing.Remove(key);
            requeued = again.Remove(key);
            if (requeued && readySet.Add(key))
                ready.Enqueue(key);
        }
        if (requeued)
            Signal();
    }

    private void Promote(DateTimeOffset now)
    {
        while (waiting.TryPeek(out var key, out var at) && at <= now)
        {
            waiting.Dequeue();
            // A key re-added sooner left a stale entry behind; only its current due time counts.
            if (!dueAt.TryGetValue(key, out var current) || current != at)
                continue;
            dueAt.Remove(key);
            if (processing.Contains(key))
                again.Add(key);
            else if (readySet.Add(key))
                ready.Enqueue(key);
        }
    }

    private void Signal()
    {
        TaskCompletionSource fired;
        lock (gate)
        {
            fired = added;
            added = NewSignal();
        }
        fired.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
