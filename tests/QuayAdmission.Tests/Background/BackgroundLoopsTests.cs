using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using QuayAdmission.Background;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Background;

public sealed class BackgroundLoopsTests
{
    private const string Loop = "test-loop";
    private static readonly TimeSpan BackoffBase = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan BackoffMax = TimeSpan.FromSeconds(8);

    public static TheoryData<string> Faults => ["client timeout", "connection refused", "bug"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task A_failing_body_is_restarted_after_each_backoff(string fault)
    {
        using var loops = new Supervised();
        var body = new Body((_, _, _) => Task.FromException(Fault(fault)));
        var run = loops.Run(body.RunAsync);

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await loops.BackingOffAsync();
            Assert.Equal(attempt, body.Attempts);
            loops.Clock.Advance(BackoffMax);
        }
        await loops.BackingOffAsync();
        Assert.Equal(4, body.Attempts);
        Assert.False(run.IsCompleted);

        await loops.StopAsync(run);
    }

    [Fact]
    public async Task A_loop_starts_once_the_host_has_started()
    {
        var lifetime = new ApplicationLifetime(new FakeLogger<ApplicationLifetime>());
        using var loops = new Supervised(lifetime);
        var body = new Body((_, progress, ct) =>
        {
            progress.Succeeded();
            return Task.Delay(Timeout.Infinite, ct);
        });

        // Without the wait the body would run before RunAsync returns its task.
        var run = loops.Loops.RunAsync(Loop, body.RunAsync, loops.Stopping);
        Assert.Equal(0, body.Attempts);

        lifetime.NotifyStarted();
        Assert.True(await Eventually.TrueAsync(() => body.Attempts == 1), "the loop did not start with the host");
        Assert.False(run.IsCompleted);

        await loops.StopAsync(run);
    }

    [Fact]
    public async Task A_loop_stopped_before_the_host_started_never_runs()
    {
        var lifetime = new ApplicationLifetime(new FakeLogger<ApplicationLifetime>());
        using var loops = new Supervised(lifetime);
        var body = new Body((_, _, _) => Task.CompletedTask);

        var run = loops.Loops.RunAsync(Loop, body.RunAsync, loops.Stopping);
        await loops.StopAsync(run);

        Assert.Equal(0, body.Attempts);
    }

    [Fact]
    public async Task Stopping_during_the_backoff_ends_the_loop()
    {
        using var loops = new Supervised();
        var body = new Body((_, _, _) => Task.FromException(Fault("client timeout")));
        var run = loops.Run(body.RunAsync);
        await loops.BackingOffAsync();

        await loops.StopAsync(run);
        Assert.Equal(1, body.Attempts);
    }

    [Fact]
    public async Task Stopping_while_the_body_runs_ends_the_loop_without_a_fault()
    {
        using var loops = new Supervised();
        var body = new Body((_, _, ct) => Task.Delay(Timeout.InfiniteTimeSpan, ct));
        var run = loops.Run(body.RunAsync);
        Assert.True(await Eventually.TrueAsync(() => body.Attempts == 1));

        await loops.StopAsync(run);
        Assert.Equal(0, loops.Errors());
        Assert.Empty(loops.Logs.GetSnapshot());
    }

    [Fact]
    public async Task A_body_that_returns_without_progress_counts_as_a_fault()
    {
        using var loops = new Supervised();
        var body = new Body((_, _, _) => Task.CompletedTask);
        var run = loops.Run(body.RunAsync);

        // Parked on the fake clock after one attempt: a busy loop would have run it again already.
        await loops.BackingOffAsync();
        Assert.Equal(1, body.Attempts);
        Assert.Equal(1, loops.Errors());
        loops.Clock.Advance(BackoffMax);
        await loops.BackingOffAsync();
        Assert.Equal(2, body.Attempts);

        await loops.StopAsync(run);
    }

    [Fact]
    public async Task A_body_that_made_progress_and_returns_is_started_again_at_once()
    {
        using var loops = new Supervised();
        var body = new Body((attempt, progress, ct) =>
        {
            if (attempt == 3)
                return Task.Delay(Timeout.InfiniteTimeSpan, ct);
            progress.Succeeded();
            return Task.CompletedTask;
        });
        var run = loops.Run(body.RunAsync);

        Assert.True(await Eventually.TrueAsync(() => body.Attempts == 3));
        Assert.Equal(TimeSpan.Zero, loops.Clock.Elapsed);
        Assert.Equal(0, loops.Errors());

        await loops.StopAsync(run);
    }

    [Fact]
    public async Task The_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success()
    {
        using var loops = new Supervised();
        var body = new Body((attempt, progress, _) =>
        {
            if (attempt == 7)
                progress.Succeeded();
            return Task.FromException(Fault("connection refused"));
        });
        var run = loops.Run(body.RunAsync);

        // Nominal waits 1, 2, 4, 8 (the cap), 8, 8; then a success and a fault: 1 again. Jitter takes off up to 20 %.
        foreach (var seconds in new[] { 1, 2, 4, 8, 8, 8, 1 })
        {
            await loops.BackingOffAsync();
            var backoff = loops.Clock.Delays[^1];
            Assert.InRange(backoff, TimeSpan.FromSeconds(seconds * 0.8), TimeSpan.FromSeconds(seconds));
            loops.Clock.Advance(BackoffMax);
        }

        await loops.StopAsync(run);
    }

    [Fact]
    public async Task The_log_speaks_once_per_change_of_state()
    {
        using var loops = new Supervised();
        var body = new Body((attempt, progress, ct) =>
        {
            if (attempt <= 3)
                return Task.FromException(Fault("connection refused"));
            if (attempt <= 5)
                return Task.FromException(Fault("bug"));
            progress.Succeeded();
            progress.Succeeded();
            return Task.Delay(Timeout.InfiniteTimeSpan, ct);
        });
        var run = loops.Run(body.RunAsync);
        for (var fault = 1; fault <= 5; fault++)
        {
            await loops.BackingOffAsync();
            loops.Clock.Advance(BackoffMax);
        }
        Assert.True(await Eventually.TrueAsync(() => body.Attempts == 6 && !loops.Loops.Progress(Loop).IsFailing));

        var records = loops.Logs.GetSnapshot();
        Assert.Collection(
            records,
            r => Assert.Equal((LogLevel.Warning, true), (r.Level, r.Message.Contains("unreachable", StringComparison.Ordinal))),
            r => Assert.Equal((LogLevel.Warning, true), (r.Level, r.Message.Contains(nameof(InvalidOperationException), StringComparison.Ordinal))),
            r => Assert.Equal((LogLevel.Information, true), (r.Level, r.Message.Contains("recovered", StringComparison.Ordinal))));
        Assert.All(records, r => Assert.Contains(Loop, r.Message, StringComparison.Ordinal));
        Assert.Equal(5, loops.Errors());

        await loops.StopAsync(run);
    }

    [Fact]
    public async Task A_client_timeout_is_logged_as_one()
    {
        using var loops = new Supervised();
        var run = loops.Run(new Body((_, _, _) => Task.FromException(Fault("client timeout"))).RunAsync);
        await loops.BackingOffAsync();

        var warning = Assert.Single(loops.Logs.GetSnapshot());
        Assert.Contains("timed out", warning.Message, StringComparison.Ordinal);

        await loops.StopAsync(run);
    }

    [Fact]
    public async Task The_last_success_timestamp_moves_with_each_success()
    {
        using var loops = new Supervised();
        using var succeed = new SemaphoreSlim(0);
        var body = new Body(async (attempt, progress, ct) =>
        {
            if (attempt == 1)
                throw Fault("bug");
            while (true)
            {
                await succeed.WaitAsync(ct);
                progress.Succeeded();
            }
        });
        var run = loops.Run(body.RunAsync);
        await loops.BackingOffAsync();
        Assert.Null(loops.LastSuccess());

        loops.Clock.Advance(BackoffMax);
        Assert.True(await Eventually.TrueAsync(() => body.Attempts == 2));
        succeed.Release();
        Assert.True(await Eventually.TrueAsync(() => loops.LastSuccess() is not null));
        Assert.Equal(loops.Clock.GetUtcNow().ToUnixTimeSeconds(), (long?)loops.LastSuccess());

        loops.Clock.Advance(TimeSpan.FromMinutes(5));
        var before = loops.LastSuccess();
        succeed.Release();
        Assert.True(await Eventually.TrueAsync(() => loops.LastSuccess() > before));
        Assert.Equal(loops.Clock.GetUtcNow().ToUnixTimeSeconds(), (long?)loops.LastSuccess());
        Assert.Equal(1, loops.Errors());

        await loops.StopAsync(run);
    }

    private static Exception Fault(string kind) => kind switch
    {
        "client timeout" => new TaskCanceledException("The operation was canceled."),
        "connection refused" => new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused"),
        _ => new InvalidOperationException("a bug in the loop's body"),
    };

    /// <summary>A loop body that counts its attempts and does what the test says on each (attempt numbers start at 1).</summary>
    private sealed class Body(Func<int, LoopProgress, CancellationToken, Task> attempt)
    {
        private int attempts;

        public int Attempts => Volatile.Read(ref attempts);

        public Task RunAsync(LoopProgress progress, CancellationToken ct) => attempt(Interlocked.Increment(ref attempts), progress, ct);
    }

    /// <summary>The supervisor under test with its fake clock, captured logs and metrics.</summary>
    private sealed class Supervised : IDisposable
    {
        private readonly CancellationTokenSource stopping = new();
        private readonly TestMetrics metrics = new();
        private readonly MetricCollector<long> errors;
        private readonly MetricCollector<double> lastSuccess;
        private readonly FakeLogger<BackgroundLoops> logger = new();

        public Supervised(IHostApplicationLifetime? lifetime = null)
        {
            errors = metrics.Collect<long>("quay_admission.background_errors");
            lastSuccess = metrics.Collect<double>("quay_admission.background_last_success_timestamp");
            var options = Microsoft.Extensions.Options.Options.Create(new BackgroundOptions { BackoffBase = BackoffBase, BackoffMax = BackoffMax });
            Loops = new BackgroundLoops(metrics.Metrics, options, Clock, logger, lifetime);
        }

        public TestClock Clock { get; } = new();

        public CancellationToken Stopping => stopping.Token;

        public BackgroundLoops Loops { get; }

        public FakeLogCollector Logs => logger.Collector;

        /// <summary>Runs the loop off the test's synchronization context, as a hosted service would.</summary>
        public Task Run(Func<LoopProgress, CancellationToken, Task> body) => Task.Run(() => Loops.RunAsync(Loop, body, stopping.Token));

        /// <summary>Waits until the loop is parked in its backoff on the fake clock.</summary>
        public async Task BackingOffAsync() =>
            Assert.True(await Eventually.TrueAsync(() => Clock.Waiting(d => d > TimeSpan.Zero && d <= BackoffMax) == 1), "the loop never waited on its backoff");

        /// <summary>Stops the loop and checks that RunAsync returns, without throwing.</summary>
        public async Task StopAsync(Task run)
        {
            await stopping.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(10));
        }

        public long Errors() => errors.GetMeasurementSnapshot().Where(m => Equals(m.Tags["loop"], Loop)).Sum(m => m.Value);

        /// <summary>The gauge's value for the loop, read as a scrape would; null when it reports none.</summary>
        public double? LastSuccess()
        {
            lastSuccess.Clear();
            lastSuccess.RecordObservableInstruments();
            return lastSuccess.GetMeasurementSnapshot().Where(m => Equals(m.Tags["loop"], Loop)).Select(m => (double?)m.Value).LastOrDefault();
        }

        public void Dispose()
        {
            stopping.Cancel();
            errors.Dispose();
            lastSuccess.Dispose();
            metrics.Dispose();
            stopping.Dispose();
        }
    }
}
