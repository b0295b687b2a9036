using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A Kestrel server on 127.0.0.1 with an OS-chosen port (or a given one, to come back on the same
/// address after a stop), running one request delegate.
/// Shared by the stand-ins so both start, report their address and stop the same way.
/// </summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    // Hanging requests are released through Stopping first; this only bounds a stuck stop.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(2);

    private static readonly object StoppingKey = new();

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping;

    private LoopbackServer(WebApplication app, CancellationTokenSource stopping, Uri baseAddress)
    {
        _app = app;
        _stopping = stopping;
        BaseAddress = baseAddress;
    }

    /// <summary>Ends with a trailing slash, e.g. http://127.0.0.1:41234/.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Cancelled when disposal starts, so handlers that wait forever can give up at once.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Cancelled when the server that received <paramref name="context"/> starts to stop.</summary>
    public static CancellationToken StoppingOf(HttpContext context) =>
        context.Items.TryGetValue(StoppingKey, out var token) && token is CancellationToken stopping ? stopping : CancellationToken.None;

    public static async Task<LoopbackServer> StartAsync(RequestDelegate handler, X509Certificate2? certificate, CancellationToken ct, int port = 0, X509Certificate2Collection? chain = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });

        // The stand-ins must not pick up the webhook's appsettings or ASPNETCORE_URLS from the test's process.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(o => o.ShutdownTimeout = StopTimeout);
        if (certificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h =>
            {
                h.ServerCertificate = certificate;
                // Intermediates sent in the handshake, as a server whose CA is not a root does.
                h.ServerCertificateChain = chain;
            }));
        }

        var app = builder.Build();
        app.Urls.Add($"{(certificate is null ? "http" : "https")}://127.0.0.1:{port}");
        var stopping = new CancellationTokenSource();
        app.Run(context =>
        {
            context.Items[StoppingKey] = stopping.Token;
            return handler(context);
        });

        try
        {
            await app.StartAsync(ct);
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            return new LoopbackServer(app, stopping, new Uri(address.TrimEnd('/') + "/"));
        }
        catch
        {
            stopping.Dispose();
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits in real time (a test's FakeTimeProvider would never end it) without holding a thread.
    /// True when the time ran out; false when the client went away or the server is stopping.
    /// </summary>
    public Task<bool> WaitAsync(TimeSpan duration, CancellationToken requestAborted) => WaitAsync(duration, requestAborted, _stopping.Token);

    /// <summary>The same, for a request of whichever server received <paramref name="context"/>.</summary>
    public static Task<bool> WaitAsync(HttpContext context, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(context);
        return WaitAsync(duration, context.RequestAborted, StoppingOf(context));
    }

    private static async Task<bool> WaitAsync(TimeSpan duration, CancellationToken requestAborted, CancellationToken stopping)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, stopping);
        try
        {
            await Task.Delay(duration, either.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using (var timeout = new CancellationTokenSource(StopTimeout))
        {
            await _app.StopAsync(timeout.Token);
        }

        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
