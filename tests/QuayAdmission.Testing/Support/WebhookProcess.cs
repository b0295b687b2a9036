using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// The real webhook as a child process on loopback ports, configured through its environment: the JIT
/// build (<c>dotnet QuayAdmission.dll</c>) or the native executable that <c>make publish-native</c> makes.
/// </summary>
public sealed class WebhookProcess : IAsyncDisposable
{
    private readonly Process process;

    private WebhookProcess(Process process, int httpsPort, int healthPort)
    {
        this.process = process;
        HttpsPort = httpsPort;
        HealthPort = healthPort;
    }

    public int HttpsPort { get; }
    public int HealthPort { get; }

    /// <summary>Whether the process has ended, and with which code.</summary>
    public int? ExitCode => process.HasExited ? process.ExitCode : null;

    /// <param name="app">QuayAdmission.dll (run with dotnet) or the native QuayAdmission executable.</param>
    public static async Task<WebhookProcess> StartAsync(string app, IDictionary<string, string> environment, Action<string> output)
    {
        var httpsPort = FreePort();
        var healthPort = FreePort();
        var start = app.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? new ProcessStartInfo("dotnet", [app]) : new ProcessStartInfo(app);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        // appsettings.json sits beside the app, as in the image's /app.
        start.WorkingDirectory = Path.GetDirectoryName(app)!;
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        start.Environment["QuayAdmission__Server__BindAddress"] = "127.0.0.1";
        start.Environment["QuayAdmission__Server__HttpsPort"] = httpsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["QuayAdmission__Server__HealthPort"] = healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {app}");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var webhook = new WebhookProcess(process, httpsPort, healthPort);
        await webhook.WaitReadyAsync(TimeSpan.FromSeconds(60));
        return webhook;
    }

    /// <summary>A client of the plain-HTTP health listener (/healthz, /readyz, /metrics), each request bounded by <paramref name="timeout"/>.</summary>
    public HttpClient HealthClient(TimeSpan timeout) => new() { BaseAddress = new Uri($"http://127.0.0.1:{HealthPort}"), Timeout = timeout };

    /// <summary>Polls /readyz; returns how long the process took from start to ready.</summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan within)
    {
        using var health = HealthClient(TimeSpan.FromSeconds(2));
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"the webhook exited with code {process.ExitCode}");
            try
            {
                using var response = await health.GetAsync(new Uri("/readyz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                    return DateTime.Now - process.StartTime;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(50);
        }
        throw new TimeoutException("the webhook did not become ready");
    }

    public long PeakWorkingSetBytes()
    {
        process.Refresh();
        return process.PeakWorkingSet64;
    }

    /// <summary>SIGTERM, as kubelet sends it, then waits for the graceful shutdown; killed if it does not come within <paramref name="within"/>.</summary>
    /// <returns>The exit code, or null when the process had to be killed.</returns>
    public async Task<int?> TerminateAsync(TimeSpan within)
    {
        if (process.HasExited)
            return process.ExitCode;
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill!.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            return null;
        }
    }

    /// <summary>SIGKILL: the process ends at once with nothing released, as when its node dies.</summary>
    public async Task KillAsync()
    {
        if (process.HasExited)
            return;
        process.Kill();
        await process.WaitForExitAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await TerminateAsync(TimeSpan.FromSeconds(30));
        process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
