using System.Collections.Concurrent;
using QuayAdmission.Background;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Background;

public sealed class WorkQueueTests
{
    private static readonly TimeSpan BackoffBase = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan BackoffMax = TimeSpan.FromSeconds(16);
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);

    private readonly TestClock clock = new();
    private readonly WorkQueue queue;

    public WorkQueueTests() => queue = new WorkQueue(clock, BackoffBase, BackoffMax);

    [Fact]
    public async Task A_key_added_five_times_is_taken_once()
    {
        for (var i = 0; i < 5; i++)
            queue.Add("a");
        Assert.Equal(1, queue.Depth);

        Assert.Equal("a", await queue.TakeAsync(CancellationToken.None));
        queue.Done("a");
        Assert.Equal(0, queue.Depth);
        Assert.True(queue.IsIdle);
        using var cancel = new CancellationTokenSource();
        Assert.False(queue.TakeAsync(cancel.Token).IsCompleted);
        await cancel.CancelAsync();
    }

    [Fact]
    public async Task A_key_added_while_being_worked_on_runs_again_after_Done_and_not_before()
    {
        queue.Add("a");
        var first = await queue.TakeAsync(CancellationToken.None);

        queue.Add("a");
        var second = queue.TakeAsync(CancellationToken.None);
        Assert.False(second.IsCompleted);

        queue.Done(first);
        Assert.Equal("a", await second.WaitAsync(Quick));
    }

    [Fact]
    public async Task No_two_workers_hold_the_same_key()
    {
        var holders = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var processed = 0;
        using var stop = new CancellationTokenSource();
        async Task Worker()
        {
            while (true)
            {
                string key;
                try
                {
                    key = await queue.TakeAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (holders.AddOrUpdate(key, 1, (_, n) => n + 1) > 1)
                    Interlocked.Increment(ref overlaps);
                await Task.Yield();
                holders.AddOrUpdate(key, 0, (_, n) => n - 1);
                Interlocked.Increment(ref processed);
                queue.Done(key);
            }
        }
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(Worker)).ToList();

        for (var i = 0; i < 2000; i++)
        {
            queue.Add($"k{i % 5}");
            if (i % 50 == 0)
                await Task.Yield();
        }
        Assert.True(await Eventually.TrueAsync(() => queue.IsIdle));
        await stop.CancelAsync();
        await Task.WhenAll(workers).WaitAsync(Quick);

        Assert.Equal(0, overlaps);
        Assert.InRange(processed, 5, 2000);
    }

    [Fact]
    public async Task AddAfter_waits_for_the_clock()
    {
        queue.AddAfter("a", TimeSpan.FromSeconds(10));
        var take = queue.TakeAsync(CancellationToken.None);

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(0, queue.Depth);
        Assert.False(take.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("a", await take.WaitAsync(Quick));
    }

    [Fact]
    public async Task The_sooner_of_two_due_times_wins_and_the_key_runs_once()
    {
        queue.AddAfter("a", TimeSpan.FromSeconds(10));
        queue.AddAfter("a", TimeSpan.FromSeconds(2));
        queue.AddAfter("a", TimeSpan.FromSeconds(30));

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, queue.Depth);
        queue.Done(await queue.TakeAsync(CancellationToken.None));

        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, queue.Depth);
        Assert.True(queue.IsIdle);
    }

    [Fact]
    public async Task AddRateLimited_backs_off_exponentially_up_to_the_cap()
    {
        // Nominal waits 1, 2, 4, 8, 16 s, then the cap; jitter takes off up to 20 %, never adds.
        var nominal = new[] { 1, 2, 4, 8, 16, 16, 16 };
        for (var failure = 1; failure <= nominal.Length; failure++)
        {
            Assert.Equal(failure, queue.AddRateLimited("a"));
            var wait = TimeSpan.FromSeconds(nominal[failure - 1]);
            var earliest = wait * 0.8 - TimeSpan.FromMilliseconds(1);

            clock.Advance(earliest);
            Assert.Equal(0, queue.Depth);
            clock.Advance(wait - earliest);
            Assert.Equal(1, queue.Depth);
            queue.Done(await queue.TakeAsync(CancellationToken.None));
        }
    }

    [Fact]
    public async Task Forget_starts_the_backoff_over()
    {
        for (var failure = 1; failure <= 4; failure++)
        {
            queue.AddRateLimited("a");
            clock.Advance(BackoffMax);
            queue.Done(await queue.TakeAsync(CancellationToken.None));
        }

        queue.Forget("a");
        Assert.Equal(1, queue.AddRateLimited("a"));
        clock.Advance(BackoffBase);
        Assert.Equal(1, queue.Depth);
    }

    [Fact]
    public async Task Add_keeps_a_backing_off_key_in_its_place()
    {
        queue.AddRateLimited("a");
        clock.Advance(BackoffBase);
        queue.Done(await queue.TakeAsync(CancellationToken.None));
        queue.AddRateLimited("a"); // second failure: due in 1.6–2 s

        queue.Add("a");
        Assert.Equal(0, queue.Depth);

        clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(0, queue.Depth);
        clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal(1, queue.Depth);
    }

    [Fact]
    public void Add_of_a_forgotten_key_is_due_at_once()
    {
        queue.AddRateLimited("a");
        queue.Forget("a");
        queue.Add("a");
        Assert.Equal(1, queue.Depth);
    }

    [Fact]
    public async Task Depth_counts_due_keys_and_IsIdle_waits_for_the_workers()
    {
        queue.Add("a");
        queue.Add("b");
        queue.AddAfter("c", TimeSpan.FromSeconds(5));
        Assert.Equal(2, queue.Depth);
        Assert.False(queue.IsIdle);

        var a = await queue.TakeAsync(CancellationToken.None);
        var b = await queue.TakeAsync(CancellationToken.None);
        Assert.Equal(0, queue.Depth);
        Assert.False(queue.IsIdle);

        queue.Done(a);
        queue.Done(b);
        Assert.True(queue.IsIdle);

        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, queue.Depth);
        Assert.False(queue.IsIdle);
    }

    [Fact]
    public async Task TakeAsync_ends_when_cancelled()
    {
        using var cancel = new CancellationTokenSource();
        var empty = queue.TakeAsync(cancel.Token);
        queue.AddAfter("later", TimeSpan.FromMinutes(1));
        using var cancelLater = new CancellationTokenSource();
        var waitingForLater = queue.TakeAsync(cancelLater.Token);

        await cancel.CancelAsync();
        await cancelLater.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => empty.WaitAsync(Quick));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waitingForLater.WaitAsync(Quick));
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, queue.Depth);
    }
}
