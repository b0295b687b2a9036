using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using QuayAdmission.Background;
using QuayAdmission.Refresh;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Refresh;

/// <summary>
/// How the controller maps a reconcile result to its work queue, controller-runtime's way: a
/// scripted reconciler, the real queue and a fake clock. Done forgets the key's failures; Retry
/// (and an exception) backs it off and tells the count; After forgets and schedules it.
/// </summary>
public sealed class RefreshControllerTests : IDisposable
{
    private const string Id = "team-a/quay-acme-puller-0123456789";
    private static readonly TimeSpan BackoffBase = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan BackoffMax = TimeSpan.FromSeconds(16);

    private readonly TestClock clock = new();
    private readonly TestMetrics metrics = new();
    private readonly WorkQueue queue;
    private readonly LoopProgress progress;
    private readonly Scripted reconciler = new();
    private readonly List<int> failures = [];

    public RefreshControllerTests()
    {
        queue = new WorkQueue(clock, BackoffBase, BackoffMax);
        progress = new BackgroundLoops(metrics.Metrics, Options.Create(new BackgroundOptions()), clock, NullLogger<BackgroundLoops>.Instance).Progress("refresher");
    }

    public void Dispose() => metrics.Dispose();

    [Fact]
    public async Task Retry_backs_the_key_off_and_tells_the_reconciler_how_often_it_failed()
    {
        queue.Add(Id);
        for (var round = 1; round <= 3; round++)
        {
            await FailAsync();
            Assert.Equal(0, queue.Depth); // backing off, not due now
            clock.Advance(BackoffMax);
        }

        Assert.Equal([1, 2, 3], failures);
        Assert.Equal(1, queue.Depth);
        Assert.False(progress.IsFailing); // a failed renewal is the key's failure, not the worker's
    }

    [Fact]
    public async Task A_retry_that_names_a_retry_after_waits_at_least_that_long()
    {
        queue.Add(Id);
        reconciler.Next = new ReconcileResult.Retry("rate limited", NotBefore: TimeSpan.FromMinutes(2));
        await ProcessDueAsync();

        // The backoff alone would make it due after a second; the Retry-After says two minutes.
        clock.Advance(BackoffMax);
        Assert.Equal(0, queue.Depth);
        clock.Advance(TimeSpan.FromMinutes(2) - BackoffMax);
        Assert.Equal(1, queue.Depth);
    }

    [Fact]
    public async Task Done_forgets_the_keys_failures()
    {
        queue.Add(Id);
        await FailAsync();
        clock.Advance(BackoffMax);
        reconciler.Next = new ReconcileResult.Done();
        await ProcessDueAsync();
        Assert.True(queue.IsIdle);

        queue.Add(Id); // the Secret changed
        await FailAsync();

        Assert.Equal([1, 1], failures);
    }

    [Fact]
    public async Task After_schedules_the_key_and_forgets_its_failures()
    {
        queue.Add(Id);
        await FailAsync();
        clock.Advance(BackoffMax);

        reconciler.Next = new ReconcileResult.After(TimeSpan.FromMinutes(30));
        await ProcessDueAsync();
        Assert.True(queue.IsIdle);
        clock.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromSeconds(1));
        Assert.Equal(0, queue.Depth);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, queue.Depth);

        await FailAsync();
        Assert.Equal([1, 1], failures);
        Assert.Equal(3, reconciler.Calls);
    }

    public static TheoryData<string> Faults => ["unreachable", "client timeout"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task An_exception_is_a_retry_and_a_fault_of_the_worker_loop(string fault)
    {
        queue.Add(Id);
        reconciler.Throw = fault == "client timeout" ? new TaskCanceledException("timed out") : new HttpRequestException(HttpRequestError.ConnectionError, "refused", statusCode: null);
        await ProcessDueAsync();

        Assert.True(progress.IsFailing);
        Assert.Equal(0, queue.Depth);
        clock.Advance(BackoffBase);
        Assert.Equal(1, queue.Depth);

        reconciler.Throw = null;
        reconciler.Next = new ReconcileResult.Done();
        await ProcessDueAsync();
        Assert.False(progress.IsFailing);
        Assert.True(queue.IsIdle);
    }

    [Fact]
    public async Task Leadership_ending_mid_reconcile_hands_the_key_back_and_is_no_fault()
    {
        queue.Add(Id);
        using var leading = new CancellationTokenSource();
        var key = await queue.TakeAsync(CancellationToken.None);
        await leading.CancelAsync();
        reconciler.Throw = new OperationCanceledException(leading.Token);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RefreshController.ProcessAsync(queue, reconciler, key, progress, leading.Token));

        Assert.True(queue.IsIdle);
        Assert.False(progress.IsFailing);
    }

    /// <summary>Works the due key with a reconciler that answers Retry and records the count it is told.</summary>
    private Task FailAsync()
    {
        reconciler.Next = new ReconcileResult.Retry("Quay: 500", failures.Add);
        return ProcessDueAsync();
    }

    private async Task ProcessDueAsync()
    {
        Assert.Equal(1, queue.Depth);
        var key = await queue.TakeAsync(CancellationToken.None);
        await RefreshController.ProcessAsync(queue, reconciler, key, progress, CancellationToken.None);
    }

    private sealed class Scripted : IReconciler
    {
        public ReconcileResult Next { get; set; } = new ReconcileResult.Done();

        public Exception? Throw { get; set; }

        public int Calls { get; private set; }

        public Task<ReconcileResult> ReconcileAsync(string id, CancellationToken ct)
        {
            Assert.Equal(Id, id);
            Calls++;
            return Throw is { } e ? Task.FromException<ReconcileResult>(e) : Task.FromResult(Next);
        }
    }
}
