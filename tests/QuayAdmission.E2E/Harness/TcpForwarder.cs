using System.Net;
using System.Net.Sockets;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// A TCP relay on 127.0.0.1 to one target (the API server), byte for byte: TLS passes through, so the
/// client still verifies the server's certificate (its IP SAN is 127.0.0.1). <see cref="Cut"/> resets
/// every open connection and, until <see cref="Restore"/>, resets each new one as it arrives: to a
/// client the server is gone, and its port stays taken so nothing else can answer there.
/// </summary>
internal sealed class TcpForwarder : IAsyncDisposable
{
    private readonly IPEndPoint target;
    private readonly TcpListener listener;
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock gate = new();
    private readonly HashSet<Relay> relays = [];
    private readonly Task accepting;
    private bool cut;
    private int accepted;
    private int refused;

    private TcpForwarder(IPEndPoint target)
    {
        this.target = target;
        listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        accepting = AcceptAsync();
    }

    public static TcpForwarder Start(IPEndPoint target) => new(target);

    public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Connections relayed, counted at accept.</summary>
    public int Accepted
    {
        get
        {
            lock (gate)
                return accepted;
        }
    }

    /// <summary>Connections reset at accept because the line was cut.</summary>
    public int Refused
    {
        get
        {
            lock (gate)
                return refused;
        }
    }

    public int Open
    {
        get
        {
            lock (gate)
                return relays.Count;
        }
    }

    public bool IsCut
    {
        get
        {
            lock (gate)
                return cut;
        }
    }

    /// <summary>Resets the open connections and every new one until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        List<Relay> open;
        lock (gate)
        {
            cut = true;
            open = [.. relays];
            relays.Clear();
        }
        foreach (var relay in open)
            relay.Reset();
    }

    public void Restore()
    {
        lock (gate)
            cut = false;
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        try
        {
            await accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        Cut();
        stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            bool refuse;
            lock (gate)
            {
                refuse = cut;
                if (refuse)
                    refused++;
                else
                    accepted++;
            }
            if (refuse)
                Relay.ResetSocket(client);
            else
                _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        var relay = new Relay(client, server);
        lock (gate)
        {
            if (cut)
            {
                relay.Reset();
                return;
            }
            relays.Add(relay);
        }
        try
        {
            await server.ConnectAsync(target, stopping.Token);
            // Either direction ending (or failing) ends both: a half-open relay would hang its client.
            await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
        finally
        {
            lock (gate)
                relays.Remove(relay);
            relay.Reset();
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, stopping.Token);
                if (read == 0)
                    return;
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, stopping.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private sealed class Relay(Socket client, Socket server)
    {
        private int reset;

        public void Reset()
        {
            if (Interlocked.Exchange(ref reset, 1) == 1)
                return;
            ResetSocket(client);
            ResetSocket(server);
        }

        /// <summary>Closes with a zero linger: the peer gets a RST, not an orderly FIN.</summary>
        public static void ResetSocket(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
            socket.Dispose();
        }
    }
}
