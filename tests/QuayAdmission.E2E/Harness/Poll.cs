using System.Diagnostics;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// Waiting for the cluster by asking again until a deadline: never a fixed sleep for a state. Deadlines
/// are generous upper bounds; what a scenario reports is the time it measured, not the deadline.
/// </summary>
internal static class Poll
{
    public static readonly TimeSpan DefaultEvery = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Asks <paramref name="probe"/> until it answers done and returns its value; a probe that throws is
    /// asked again (the API may be restarting, a watch may lag). Throws <see cref="TimeoutException"/>
    /// naming <paramref name="what"/> and the last answer or error.
    /// </summary>
    public static async Task<T> UntilAsync<T>(string what, TimeSpan within, Func<Task<(bool Done, T Value)>> probe, TimeSpan? every = null)
    {
        var clock = Stopwatch.StartNew();
        string last = "no answer yet";
        while (true)
        {
            try
            {
                var (done, value) = await probe();
                if (done)
                    return value;
                last = $"last seen: {value}";
            }
            catch (Exception e) when (e is not TimeoutException and not OutOfMemoryException and not FinalAnswerException)
            {
                last = $"last error: {e.GetType().Name}: {e.Message}";
            }
            if (clock.Elapsed >= within)
                throw new TimeoutException($"{what}: not within {Figures.Seconds(within)} ({last})");
            await Task.Delay(every ?? DefaultEvery);
        }
    }

    public static Task UntilAsync(string what, TimeSpan within, Func<Task<bool>> condition, TimeSpan? every = null) =>
        UntilAsync(what, within, async () => (await condition(), "false"), every);

    /// <summary>Asks <paramref name="holds"/> for <paramref name="during"/>; throws at the first answer that it does not hold.</summary>
    public static async Task ConsistentlyAsync(string what, TimeSpan during, Func<Task<(bool Holds, string Seen)>> holds, TimeSpan? every = null)
    {
        var clock = Stopwatch.StartNew();
        do
        {
            var (ok, seen) = await holds();
            if (!ok)
                throw new InvalidOperationException($"{what}: broken after {Figures.Seconds(clock.Elapsed)}: {seen}");
            await Task.Delay(every ?? DefaultEvery);
        }
        while (clock.Elapsed < during);
    }
}

/// <summary>A probe's answer with how to show it when the wait runs out (the value itself may print as its type name).</summary>
internal readonly record struct Observed<T>(T Value, string Text)
{
    public override string ToString() => Text;
}

/// <summary>Thrown by a probe whose answer asking again will not change (e.g. a refusal other than the one waited out): the wait ends with it.</summary>
internal sealed class FinalAnswerException(string message) : Exception(message);
