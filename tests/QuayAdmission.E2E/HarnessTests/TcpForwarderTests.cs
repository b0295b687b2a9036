using System.Net;
using System.Net.Sockets;
using System.Text;
using QuayAdmission.E2E.Harness;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>The API cut's forwarder, against an echo server: relays, resets what is open and what comes, and relays again.</summary>
public sealed class TcpForwarderTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly TcpListener echo = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private Task echoing = Task.CompletedTask;

    public Task InitializeAsync()
    {
        echo.Start();
        echoing = EchoAsync();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await stop.CancelAsync();
        echo.Stop();
        await echoing;
        stop.Dispose();
    }

    [Fact]
    public async Task Relays_both_ways_until_cut_then_resets_open_and_new_connections_until_restored()
    {
        await using var forwarder = TcpForwarder.Start((IPEndPoint)echo.LocalEndpoint);
        using var open = await ConnectAsync(forwarder);
        Assert.Equal("hello", await RoundTripAsync(open, "hello"));
        Assert.Equal(1, forwarder.Accepted);

        forwarder.Cut();
        Assert.True(forwarder.IsCut);
        Assert.Equal(0, forwarder.Open);
        await AssertBrokenAsync(open);
        await AssertRefusedAsync(forwarder);
        Assert.Equal(1, forwarder.Refused);

        forwarder.Restore();
        using var after = await ConnectAsync(forwarder);
        Assert.Equal("again", await RoundTripAsync(after, "again"));
        Assert.Equal(2, forwarder.Accepted);
    }

    [Fact]
    public async Task A_target_that_refuses_ends_the_client_connection()
    {
        int closedPort;
        using (var unused = new TcpListener(IPAddress.Loopback, 0))
        {
            unused.Start();
            closedPort = ((IPEndPoint)unused.LocalEndpoint).Port;
        }
        await using var forwarder = TcpForwarder.Start(new IPEndPoint(IPAddress.Loopback, closedPort));
        await AssertRefusedAsync(forwarder);
    }

    private static async Task<TcpClient> ConnectAsync(TcpForwarder forwarder)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, forwarder.Port);
        return client;
    }

    private static async Task<string> RoundTripAsync(TcpClient client, string text)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text), timeout.Token);
        var buffer = new byte[text.Length];
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer);
    }

    /// <summary>The reset may come before the connect returns (loopback is that fast), or at the first read.</summary>
    private static async Task AssertRefusedAsync(TcpForwarder forwarder)
    {
        TcpClient client;
        try
        {
            client = await ConnectAsync(forwarder);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused)
        {
            return;
        }
        using (client)
            await AssertBrokenAsync(client);
    }

    /// <summary>A reset or closed connection: a read ends (0 bytes) or fails, never hangs.</summary>
    private static async Task AssertBrokenAsync(TcpClient client)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync("x"u8.ToArray(), timeout.Token);
            var read = await stream.ReadAsync(new byte[16], timeout.Token);
            Assert.Equal(0, read);
        }
        catch (IOException)
        {
        }
        Assert.False(timeout.IsCancellationRequested, "the connection hung instead of breaking");
    }

    private async Task EchoAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var socket = await echo.AcceptSocketAsync(stop.Token);
                connections.Add(Task.Run(async () =>
                {
                    using (socket)
                    {
                        var buffer = new byte[1024];
                        try
                        {
                            int read;
                            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token)) > 0)
                                await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, stop.Token);
                        }
                        catch (Exception e) when (e is SocketException or OperationCanceledException)
                        {
                        }
                    }
                }));
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        await Task.WhenAll(connections);
    }
}
