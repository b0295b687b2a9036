using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using QuayAdmission.Kubernetes;
using QuayAdmission.Kubernetes.Watching;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Kubernetes;

/// <summary>
/// A watch on a connection whose path went dead without closing (packets dropped, not refused): the
/// API server's side still answers, but nothing gets through. HTTP/2 pings must find it, as
/// client-go's do, instead of the watch waiting for its own timeout, minutes later.
/// </summary>
public sealed class DeadConnectionTests
{
    private static readonly TimeSpan Outlast = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_silent_watch_on_a_connection_that_went_dead_fails_at_the_unanswered_ping()
    {
        using var chain = TlsChain.Create();
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await LoopbackServer.StartAsync(async context =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}""" + "\n");
            await context.Response.Body.FlushAsync();
            opened.TrySetResult();
            // Then silence: a watch on a quiet resource between bookmarks.
            await LoopbackServer.WaitAsync(context, Timeout.InfiniteTimeSpan);
        }, chain.Leaf, CancellationToken.None, chain: [chain.Intermediate]);
        await using var path = await FreezingForwarder.StartAsync(server.BaseAddress.Port);
        using var api = new KubernetesApi(
            new k8s.KubernetesClientConfiguration { Host = $"https://127.0.0.1:{path.Port}", SslCaCerts = [chain.Root] },
            liveness: new ConnectionLiveness(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
        var events = 0;

        var watch = new WatchClient(api).ReadAsync("api/v1/secrets?watch=true", _ => Interlocked.Increment(ref events), CancellationToken.None);
        await opened.Task.WaitAsync(Outlast);
        Assert.True(await Eventually.TrueAsync(() => Volatile.Read(ref events) == 1, Outlast), "the first event never came");
        await path.FreezeAsync();

        // The read fails: the connection is given up. Without pings it would wait out the test's deadline (a TimeoutException).
        var error = await Record.ExceptionAsync(() => watch.WaitAsync(Outlast));
        Assert.NotNull(error);
        Assert.IsNotType<TimeoutException>(error);
        Assert.Equal(1, Volatile.Read(ref events));
    }

    /// <summary>A TCP path that can go dead: once frozen it keeps both connections open and forwards nothing.</summary>
    private sealed class FreezingForwarder : IAsyncDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource stop = new();
        private readonly TaskCompletionSource frozen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<Socket> sockets = [];
        private Task accepting = Task.CompletedTask;

        public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

        public static Task<FreezingForwarder> StartAsync(int target)
        {
            var forwarder = new FreezingForwarder();
            forwarder.listener.Start();
            forwarder.accepting = forwarder.AcceptAsync(target);
            return Task.FromResult(forwarder);
        }

        public Task FreezeAsync()
        {
            frozen.TrySetResult();
            return Task.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            listener.Stop();
            lock (sockets)
                sockets.ForEach(s => s.Dispose());
            await accepting.ContinueWith(_ => { }, TaskScheduler.Default);
            stop.Dispose();
        }

        private async Task AcceptAsync(int target)
        {
            while (!stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptSocketAsync(stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                var upstream = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await upstream.ConnectAsync(IPAddress.Loopback, target, stop.Token);
                lock (sockets)
                    sockets.AddRange([client, upstream]);
                _ = PumpAsync(client, upstream);
                _ = PumpAsync(upstream, client);
            }
        }

        private async Task PumpAsync(Socket from, Socket to)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReceiveAsync(buffer, stop.Token);
                    if (read == 0 || frozen.Task.IsCompleted)
                    {
                        // Dead: what arrives is dropped, and nothing is closed.
                        await Task.Delay(Timeout.Infinite, stop.Token);
                    }
                    await to.SendAsync(buffer.AsMemory(0, read), stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
