using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Threading.Channels;

namespace QuayAdmission.LoadBench;

/// <summary>Where load goes: the server process, its loopback HTTPS endpoint and how its certificate is checked.</summary>
internal sealed record Target(string Name, ChildProcess Server, RemoteCertificateValidationCallback Validate)
{
    public IPEndPoint Endpoint { get; } = new(IPAddress.Loopback, Server.HttpsPort);
}

/// <summary>
/// The three shapes of load: closed-loop saturation for a fixed time, an open-loop fixed rate, and
/// a queue of requests worked off as fast as possible (bursts, key floods, allocation counts).
/// Every loop ends by count or by time, and a hard deadline cancels whatever is still in flight.
/// </summary>
internal static class LoadGenerator
{
    // Past the planned duration, what may still be in flight gets this long before it counts as failed.
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(20);

    /// <summary>Each connection sends its next request as soon as the previous answer is read.</summary>
    public static async Task<SaturationResult> SaturateAsync(
        Target target, IReadOnlyList<BenchRequest> requests, int connections, TimeSpan warmup, TimeSpan measure, CancellationToken ct)
    {
        using var deadline = Deadline(warmup + measure, ct);
        var pool = await OpenAsync(target, connections, deadline.Token);
        try
        {
            var errors = new ErrorLog();
            var measureStart = Stopwatch.GetTimestamp() + Ticks(warmup);
            var measureEnd = measureStart + Ticks(measure);
            // The server's CPU time over exactly the counted window, read by a side task at its edges.
            var cpu = Task.Run(async () =>
            {
                await Task.Delay(Until(measureStart), deadline.Token);
                var before = target.Server.CpuTime();
                await Task.Delay(Until(measureEnd), deadline.Token);
                return target.Server.CpuTime() - before;
            });
            var workers = pool.Select((connection, i) => Task.Run(async () =>
            {
                var latencies = new LatencyRecorder();
                for (var n = i; Stopwatch.GetTimestamp() < measureEnd && !errors.Stopped; n += connections)
                {
                    var request = requests[n % requests.Count];
                    var sent = Stopwatch.GetTimestamp();
                    if (!await SendAsync(connection, request, errors, deadline.Token))
                        break;
                    var done = Stopwatch.GetTimestamp();
                    if (done >= measureStart && done < measureEnd)
                        latencies.Add(done - sent);
                }
                return latencies;
            })).ToList();
            var all = LatencyRecorder.Merge(await Task.WhenAll(workers));
            var cpuPerRequest = (await cpu).TotalMicroseconds / all.Count;
            return new SaturationResult(connections, all.Count / measure.TotalSeconds, all.Summarize(), cpuPerRequest, errors.Count, errors.First);
        }
        finally
        {
            await CloseAsync(pool);
        }
    }

    /// <summary>
    /// Requests scheduled at a fixed rate and handed to whichever connection is free. Latency counts
    /// from the scheduled send time, so a stall delays and charges every request queued behind it
    /// (no coordinated omission); the service time, from the actual write, is reported beside it.
    /// </summary>
    public static async Task<RateResult> FixedRateAsync(
        Target target, IReadOnlyList<BenchRequest> requests, int connections, int rate, TimeSpan warmup, TimeSpan measure, CancellationToken ct)
    {
        using var deadline = Deadline(warmup + measure, ct);
        var pool = await OpenAsync(target, connections, deadline.Token);
        try
        {
            var warmupCount = (int)(rate * warmup.TotalSeconds);
            var total = warmupCount + (int)(rate * measure.TotalSeconds);
            var queue = Channel.CreateUnbounded<(int Index, long Scheduled)>(new UnboundedChannelOptions { SingleWriter = true });
            var lag = new LatencyRecorder();
            var errors = new ErrorLog();
            var pacer = new Thread(() => Pace(queue.Writer, rate, total, warmupCount, lag, errors, deadline.Token))
            {
                IsBackground = true,
                Name = "pacer",
            };
            pacer.Start();

            var workers = pool.Select(connection => Task.Run(async () =>
            {
                var (fromScheduled, service) = (new LatencyRecorder(), new LatencyRecorder());
                var last = 0L;
                try
                {
                    await foreach (var (index, scheduled) in queue.Reader.ReadAllAsync(deadline.Token))
                    {
                        var sent = Stopwatch.GetTimestamp();
                        if (!await SendAsync(connection, requests[index % requests.Count], errors, deadline.Token))
                            break;
                        var done = Stopwatch.GetTimestamp();
                        if (index < warmupCount)
                            continue;
                        fromScheduled.Add(done - scheduled);
                        service.Add(done - sent);
                        last = Math.Max(last, done);
                    }
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    errors.Add("hard deadline reached with requests still queued");
                }
                return (fromScheduled, service, last);
            })).ToList();
            var results = await Task.WhenAll(workers);
            pacer.Join();

            var scheduledAll = LatencyRecorder.Merge(results.Select(r => r.fromScheduled));
            var serviceAll = LatencyRecorder.Merge(results.Select(r => r.service));
            return new RateResult(connections, rate, scheduledAll.Count, scheduledAll.Summarize(), serviceAll.Summarize(), lag.Summarize(), errors.Count, errors.First);
        }
        finally
        {
            await CloseAsync(pool);
        }
    }

    /// <summary>
    /// All <paramref name="requests"/> queued at once and worked off by <paramref name="connections"/>
    /// connections; "from start" is each answer's time since the first request went out.
    /// </summary>
    public static Task<QueueResult> DrainAsync(
        Target target, IReadOnlyList<BenchRequest> requests, int connections, TimeSpan expected, CancellationToken ct) =>
        DrainAsync(target, requests, connections, expected, ready: null, finished: null, ct);

    /// <summary>As above; <paramref name="ready"/> runs once the connections are open, <paramref name="finished"/> before they close.</summary>
    public static async Task<QueueResult> DrainAsync(
        Target target, IReadOnlyList<BenchRequest> requests, int connections, TimeSpan expected,
        Func<Task>? ready, Func<Task>? finished, CancellationToken ct)
    {
        using var deadline = Deadline(expected, ct);
        var pool = await OpenAsync(target, Math.Min(connections, requests.Count), deadline.Token);
        try
        {
            if (ready is not null)
                await ready();
            var errors = new ErrorLog();
            var next = -1;
            var started = Stopwatch.GetTimestamp();
            var workers = pool.Select(connection => Task.Run(async () =>
            {
                var (fromStart, service) = (new LatencyRecorder(), new LatencyRecorder());
                int index;
                while ((index = Interlocked.Increment(ref next)) < requests.Count && !errors.Stopped)
                {
                    var sent = Stopwatch.GetTimestamp();
                    if (!await SendAsync(connection, requests[index], errors, deadline.Token))
                        break;
                    var done = Stopwatch.GetTimestamp();
                    fromStart.Add(done - started);
                    service.Add(done - sent);
                }
                return (fromStart, service);
            })).ToList();
            var results = await Task.WhenAll(workers);
            var wall = Stopwatch.GetElapsedTime(started);
            if (finished is not null)
                await finished();
            var fromStartAll = LatencyRecorder.Merge(results.Select(r => r.fromStart));
            var serviceAll = LatencyRecorder.Merge(results.Select(r => r.service));
            return new QueueResult(requests.Count, pool.Count, fromStartAll.Count, wall, fromStartAll.Summarize(), serviceAll.Summarize(), errors.Count, errors.First);
        }
        finally
        {
            await CloseAsync(pool);
        }
    }

    private static void Pace(ChannelWriter<(int, long)> writer, int rate, int total, int warmupCount, LatencyRecorder lag, ErrorLog errors, CancellationToken ct)
    {
        var first = Stopwatch.GetTimestamp();
        for (var i = 0; i < total && !ct.IsCancellationRequested && !errors.Stopped; i++)
        {
            var scheduled = first + (long)(i * (double)Stopwatch.Frequency / rate);
            Native.SleepUntil(scheduled);
            writer.TryWrite((i, scheduled));
            if (i >= warmupCount)
                lag.Add(Stopwatch.GetTimestamp() - scheduled);
        }
        writer.TryComplete();
    }

    /// <summary>Sends one request and checks the answer; false when this connection cannot go on.</summary>
    private static async ValueTask<bool> SendAsync(HttpsConnection connection, BenchRequest request, ErrorLog errors, CancellationToken ct)
    {
        int status;
        try
        {
            status = await connection.SendAsync(request.Bytes, ct);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            errors.Add(e is OperationCanceledException ? "hard deadline reached with a request in flight" : $"{e.GetType().Name}: {e.Message}");
            return false;
        }
        if (request.Check(status, connection.Body) is { } problem)
            errors.Add(problem);
        return true;
    }

    private static async Task<List<HttpsConnection>> OpenAsync(Target target, int count, CancellationToken ct)
    {
        var pool = new HttpsConnection[count];
        try
        {
            // A few handshakes at a time: a burst of hundreds would only measure the accept queue.
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (i, token) =>
                pool[i] = await HttpsConnection.OpenAsync(target.Endpoint, target.Validate, token));
            return [.. pool];
        }
        catch
        {
            await CloseAsync(pool.Where(c => c is not null));
            throw;
        }
    }

    private static async Task CloseAsync(IEnumerable<HttpsConnection> pool)
    {
        foreach (var connection in pool)
            await connection.DisposeAsync();
    }

    private static CancellationTokenSource Deadline(TimeSpan planned, CancellationToken ct)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(planned + Grace);
        return deadline;
    }

    private static TimeSpan Until(long timestamp)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}

/// <summary>Counts failures and keeps the first message; after too many, the run stops early.</summary>
internal sealed class ErrorLog
{
    private const int StopAfter = 100;
    private int count;
    private string? first;

    public int Count => Volatile.Read(ref count);

    public string? First => Volatile.Read(ref first);

    public bool Stopped => Count >= StopAfter;

    public void Add(string message)
    {
        Interlocked.CompareExchange(ref first, message, null);
        Interlocked.Increment(ref count);
    }
}

/// <param name="CpuMicrosecondsPerRequest">The server process's CPU time (user and system) over the counted window, per request answered in it.</param>
internal sealed record SaturationResult(int Connections, double RequestsPerSecond, LatencySummary Latency, double CpuMicrosecondsPerRequest, int Errors, string? FirstError);

internal sealed record RateResult(
    int Connections, int Rate, int Measured, LatencySummary FromScheduled, LatencySummary Service, LatencySummary PacerLag, int Errors, string? FirstError);

internal sealed record QueueResult(
    int Requests, int Connections, int Completed, TimeSpan Wall, LatencySummary FromStart, LatencySummary Service, int Errors, string? FirstError);
