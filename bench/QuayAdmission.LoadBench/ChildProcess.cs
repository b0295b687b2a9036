using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace QuayAdmission.LoadBench;

/// <summary>
/// A server under test as a child process on loopback ports, configured through its environment:
/// adapted from tests/QuayAdmission.Testing/Support/WebhookProcess.cs. Differences: output goes straight to a
/// log file (as a container runtime would take it, and without costing this process CPU per line),
/// readiness is polled every 5 ms and timed from just before the process starts, the pid is
/// recorded for bench/run.sh's cleanup trap, and resident memory is read from /proc.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopWithin = TimeSpan.FromSeconds(20);

    // USER_HZ: 100 on every Linux architecture .NET runs on.
    private const int ClockTicksPerSecond = 100;

    private readonly Process process;
    private bool disposed;

    private ChildProcess(Process process, string logFile, int httpsPort, int healthPort)
    {
        this.process = process;
        LogFile = logFile;
        HttpsPort = httpsPort;
        HealthPort = healthPort;
    }

    public int Id => process.Id;

    public string LogFile { get; }

    public int HttpsPort { get; }

    public int HealthPort { get; }

    /// <summary>From just before the process was started to the first 200 from /readyz.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>
    /// Runs <c>dotnet <paramref name="app"/> <paramref name="arguments"/></c> (or the native executable
    /// <paramref name="app"/> itself) in <paramref name="workingDirectory"/>, then waits for
    /// <c>GET /readyz</c> on the health port. <paramref name="environment"/> may use the placeholders
    /// {https} and {health}, replaced by the free ports chosen here.
    /// </summary>
    public static async Task<ChildProcess> StartAsync(
        string app, IReadOnlyList<string> arguments, string workingDirectory, IDictionary<string, string> environment,
        string logFile, string pidFile, CancellationToken ct)
    {
        var httpsPort = FreePort();
        var healthPort = FreePort();
        string[] command = app.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ["dotnet", app, .. arguments] : [app, .. arguments];
        // exec keeps the pid: the shell only redirects output, then becomes the server.
        var start = new ProcessStartInfo("/bin/sh", ["-c", "exec \"$@\" >>\"$BENCH_LOG\" 2>&1", "sh", .. command])
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
            start.Environment[key] = value.Replace("{https}", Text(httpsPort), StringComparison.Ordinal).Replace("{health}", Text(healthPort), StringComparison.Ordinal);
        start.Environment["BENCH_LOG"] = logFile;

        var clock = Stopwatch.StartNew();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {app}");
        await File.AppendAllTextAsync(pidFile, $"{process.Id} {app}\n", ct);
        var child = new ChildProcess(process, logFile, httpsPort, healthPort);
        try
        {
            await child.WaitReadyAsync(clock, ct);
            return child;
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    /// <summary>VmRSS and VmHWM (the peak) from /proc/&lt;pid&gt;/status, in bytes.</summary>
    public (long Resident, long Peak) Memory()
    {
        long resident = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                resident = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                peak = Kilobytes(line);
        }
        return (resident, peak);
    }

    /// <summary>
    /// User plus system CPU time of the process so far, from /proc/&lt;pid&gt;/stat (in clock ticks of
    /// 10 ms). Less disturbed by other work on the machine than throughput, so it compares servers
    /// fairly even when the machine is busy.
    /// </summary>
    public TimeSpan CpuTime()
    {
        var stat = File.ReadAllText($"/proc/{process.Id}/stat");
        // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
    }

    /// <summary>The last lines of the log, for a failure message.</summary>
    public string LogTail(int lines = 30) =>
        File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(lines)) : "(no log)";

    /// <summary>SIGTERM, then wait for the graceful shutdown; killed if it does not come.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
            return;
        disposed = true;
        if (!process.HasExited)
        {
            Native.Terminate(process.Id);
            using var timeout = new CancellationTokenSource(StopWithin);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
        }
        process.Dispose();
    }

    private async Task WaitReadyAsync(Stopwatch clock, CancellationToken ct)
    {
        using var health = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HealthPort}"), Timeout = TimeSpan.FromSeconds(2) };
        // Bounded by ReadyWithin; each attempt by the client's timeout.
        while (clock.Elapsed < ReadyWithin)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"{Path.GetFileName(LogFile)}: the process exited with code {process.ExitCode}:\n{LogTail()}");
            try
            {
                using var response = await health.GetAsync(new Uri("/readyz", UriKind.Relative), ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    StartupTime = clock.Elapsed;
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(5, ct);
        }
        throw new TimeoutException($"{Path.GetFileName(LogFile)}: not ready within {ReadyWithin.TotalSeconds} s:\n{LogTail()}");
    }

    private static long Kilobytes(string statusLine) =>
        long.Parse(statusLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
