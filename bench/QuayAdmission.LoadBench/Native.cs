using System.Diagnostics;
using System.Runtime.InteropServices;

namespace QuayAdmission.LoadBench;

/// <summary>The two system calls .NET does not offer: a sub-millisecond sleep and a signal.</summary>
internal static partial class Native
{
    private const int SigTerm = 15;

    /// <summary>
    /// Sleeps until a Stopwatch timestamp, for the fixed-rate pacer. Thread.Sleep and timers resolve to
    /// about a millisecond, which would add up to a millisecond of pacer lateness to every latency
    /// measured from the schedule; spinning instead would take a core from the server under test.
    /// </summary>
    public static void SleepUntil(long stopwatchTimestamp)
    {
        // Bounded: the remaining time only shrinks; an interrupted sleep (EINTR from the GC's signals) just goes round again.
        while (true)
        {
            var remaining = stopwatchTimestamp - Stopwatch.GetTimestamp();
            if (remaining <= 0)
                return;
            var nanoseconds = (long)(remaining * (1e9 / Stopwatch.Frequency));
            var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
            _ = NanoSleep(in request, IntPtr.Zero);
        }
    }

    /// <summary>SIGTERM, as kubelet sends it, so the process shuts down gracefully.</summary>
    public static bool Terminate(int pid) => Kill(pid, SigTerm) == 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep")]
    private static partial int NanoSleep(in Timespec request, IntPtr remaining);

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
