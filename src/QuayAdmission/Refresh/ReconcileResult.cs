namespace QuayAdmission.Refresh;

/// <summary>
/// controller-runtime's <c>reconcile.Reconciler</c>: brings one object to its desired state and
/// says when to look at it again. It never touches the work queue; <see cref="RefreshController"/>
/// maps the result to the queue's calls.
/// </summary>
public interface IReconciler
{
    /// <summary>Reconciles the object <paramref name="id"/> (<c>namespace/name</c>). An exception counts as <see cref="ReconcileResult.Retry"/>.</summary>
    Task<ReconcileResult> ReconcileAsync(string id, CancellationToken ct);
}

/// <summary>What a reconcile asks of the queue: nothing more, a retry with backoff, or another look later.</summary>
public abstract record ReconcileResult
{
    private ReconcileResult()
    {
    }

    /// <summary>Nothing left to do until the object or its users change (the queue forgets its failures).</summary>
    public sealed record Done : ReconcileResult;

    /// <summary>
    /// The work failed for <paramref name="Reason"/> (safe to log: never a token): try again after
    /// the key's next backoff, and not before <paramref name="NotBefore"/> (a Retry-After) when set.
    /// <paramref name="Failed"/>, when set, is told how many times in a row the key has now failed,
    /// as the queue counts them, for what depends on that count.
    /// </summary>
    public sealed record Retry(string Reason, Action<int>? Failed = null, TimeSpan? NotBefore = null) : ReconcileResult;

    /// <summary>Done for now, and due again after <paramref name="Delay"/>: time-based work is scheduled, not polled for.</summary>
    public sealed record After(TimeSpan Delay) : ReconcileResult;
}
