using Microsoft.Extensions.Time.Testing;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells which of its timers are waiting, and for how
/// long each was set. Code that awaits <c>Task.Delay(d, time)</c> or a
/// <c>CancellationTokenSource(d, time)</c> holds such a timer, so a test can wait until the code
/// under test is parked on the fake clock before it advances it: no sleeps, no lost steps.
/// </summary>
public sealed class TestClock : FakeTimeProvider
{
    // A whole second, so times written to the API (second or microsecond precision) compare exactly.
    private static readonly DateTimeOffset Origin = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Lock gate = new();
    private readonly List<TrackedTimer> timers = [];
    private readonly List<TimeSpan> delays = [];

    public TestClock()
        : base(Origin)
    {
    }

    /// <summary>How far the clock has been advanced.</summary>
    public TimeSpan Elapsed => GetUtcNow() - Start;

    /// <summary>Every delay a timer was created with, in order.</summary>
    public IReadOnlyList<TimeSpan> Delays
    {
        get
        {
            lock (gate)
                return delays.ToList();
        }
    }

    /// <summary>Timers set and not yet fired or disposed whose delay, when set, matched <paramref name="delay"/>.</summary>
    public int Waiting(Func<TimeSpan, bool> delay)
    {
        lock (gate)
            return timers.Count(t => t.IsWaiting && delay(t.Delay));
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var tracked = new TrackedTimer(gate, dueTime);
        lock (gate)
        {
            timers.RemoveAll(t => t.IsDone);
            timers.Add(tracked);
            delays.Add(dueTime);
        }
        tracked.Attach(base.CreateTimer(s =>
        {
            tracked.Fired(period);
            callback(s);
        }, state, dueTime, period));
        return tracked;
    }

    private sealed class TrackedTimer(Lock gate, TimeSpan delay) : ITimer
    {
        private bool waiting = delay != Timeout.InfiniteTimeSpan;
        private bool disposed;
        private ITimer? inner;

        public TimeSpan Delay { get; private set; } = delay;

        public bool IsWaiting
        {
            get
            {
                lock (gate)
                    return waiting && !disposed;
            }
        }

        public bool IsDone
        {
            get
            {
                lock (gate)
                    return disposed;
            }
        }

        public void Attach(ITimer timer)
        {
            bool dispose;
            lock (gate)
            {
                inner = timer;
                dispose = disposed;
            }
            if (dispose)
                timer.Dispose();
        }

        public void Fired(TimeSpan period)
        {
            lock (gate)
                waiting = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            ITimer? timer;
            lock (gate)
            {
                Delay = dueTime;
                waiting = dueTime != Timeout.InfiniteTimeSpan;
                timer = inner;
            }
            return timer?.Change(dueTime, period) ?? false;
        }

        public void Dispose()
        {
            ITimer? timer;
            lock (gate)
            {
                disposed = true;
                timer = inner;
            }
            timer?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
