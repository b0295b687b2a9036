using System.Buffers.Text;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace QuayAdmission.LoadBench;

/// <summary>
/// One keep-alive HTTP/1.1 connection over TLS, as kube-apiserver holds to a webhook: a request is
/// written, its whole response read, then the next request goes on the same connection.
/// Deliberately small (no HttpClient pool, no header objects) so the load generator spends as little
/// of the two cores as it can; it reads Content-Length and chunked bodies, which is all Kestrel sends.
/// </summary>
internal sealed class HttpsConnection : IAsyncDisposable
{
    // A review answer is a few hundred bytes; anything near this is a broken response, not a review.
    private const int MaxResponseBytes = 1024 * 1024;

    private readonly SslStream tls;
    private byte[] buffer = new byte[16 * 1024];
    private int start;
    private int end;
    private byte[] body = new byte[4 * 1024];

    private HttpsConnection(SslStream tls) => this.tls = tls;

    /// <summary>The body of the last response (dechunked); valid until the next request.</summary>
    public ReadOnlySpan<byte> Body => body.AsSpan(0, BodyLength);

    public int BodyLength { get; private set; }

    public static async Task<HttpsConnection> OpenAsync(IPEndPoint endpoint, RemoteCertificateValidationCallback validate, CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, ct);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = endpoint.Address.ToString(),
                    ApplicationProtocols = [SslApplicationProtocol.Http11],
                    RemoteCertificateValidationCallback = validate,
                },
                ct);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
        return new HttpsConnection(tls);
    }

    /// <summary>Writes one complete request (head and body) and reads the response; returns its status code.</summary>
    public async ValueTask<int> SendAsync(ReadOnlyMemory<byte> request, CancellationToken ct)
    {
        await tls.WriteAsync(request, ct);
        return await ReadResponseAsync(ct);
    }

    public ValueTask DisposeAsync() => tls.DisposeAsync();

    private async ValueTask<int> ReadResponseAsync(CancellationToken ct)
    {
        int headEnd;
        while ((headEnd = buffer.AsSpan(start, end - start).IndexOf("\r\n\r\n"u8)) < 0)
            await FillAsync(ct);

        var (status, contentLength, chunked) = ParseHead(buffer.AsSpan(start, headEnd));
        start += headEnd + 4;
        BodyLength = 0;

        if (chunked)
        {
            while (true)
            {
                var size = await ReadChunkSizeAsync(ct);
                if (size == 0)
                {
                    // Trailers (none from Kestrel here), then the empty line that ends the message.
                    while (await ReadLineAsync(ct) > 0)
                    {
                    }
                    break;
                }
                await CopyToBodyAsync(size, ct);
                if (await ReadLineAsync(ct) != 0)
                    throw new InvalidDataException("chunk not followed by CRLF");
            }
        }
        else if (contentLength > 0)
        {
            await CopyToBodyAsync(contentLength, ct);
        }
        return status;
    }

    private static (int Status, int ContentLength, bool Chunked) ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK"
        if (head.Length < 12 || !head.StartsWith("HTTP/1.1 "u8) || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _))
            throw new InvalidDataException("not an HTTP/1.1 status line");

        var contentLength = -1;
        var chunked = false;
        var lineEnd = head.IndexOf("\r\n"u8);
        var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            var next = rest.IndexOf("\r\n"u8);
            var line = next < 0 ? rest : rest[..next];
            rest = next < 0 ? [] : rest[(next + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
                continue;
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out contentLength, out var used) || used != value.Length || contentLength < 0)
                    throw new InvalidDataException("bad Content-Length");
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
            }
        }
        if (contentLength > MaxResponseBytes)
            throw new InvalidDataException("response too large");
        return (status, contentLength, chunked);
    }

    private async ValueTask<int> ReadChunkSizeAsync(CancellationToken ct)
    {
        var length = await ReadLineAsync(ct);
        var line = buffer.AsSpan(start - length - 2, length);
        var semicolon = line.IndexOf((byte)';');
        if (semicolon >= 0)
            line = line[..semicolon];
        if (!Utf8Parser.TryParse(line.Trim((byte)' '), out int size, out var used, 'x') || used == 0 || size < 0 || size > MaxResponseBytes)
            throw new InvalidDataException("bad chunk size");
        return size;
    }

    /// <summary>Consumes one line; returns its length without the CRLF (the line stays readable just before <see cref="start"/>).</summary>
    private async ValueTask<int> ReadLineAsync(CancellationToken ct)
    {
        int lineEnd;
        while ((lineEnd = buffer.AsSpan(start, end - start).IndexOf("\r\n"u8)) < 0)
            await FillAsync(ct);
        start += lineEnd + 2;
        return lineEnd;
    }

    private async ValueTask CopyToBodyAsync(int count, CancellationToken ct)
    {
        if (BodyLength + count > MaxResponseBytes)
            throw new InvalidDataException("response too large");
        if (BodyLength + count > body.Length)
            Array.Resize(ref body, Math.Max(body.Length * 2, BodyLength + count));
        while (end - start < count)
            await FillAsync(ct);
        buffer.AsSpan(start, count).CopyTo(body.AsSpan(BodyLength));
        BodyLength += count;
        start += count;
    }

    /// <summary>Reads more bytes after what is buffered, compacting or growing the buffer first.</summary>
    private async ValueTask FillAsync(CancellationToken ct)
    {
        if (start > 0)
        {
            var unread = end - start;
            if (unread == 0)
            {
                start = end = 0;
            }
            else if (end == buffer.Length)
            {
                buffer.AsSpan(start, unread).CopyTo(buffer);
                start = 0;
                end = unread;
            }
        }
        if (end == buffer.Length)
        {
            if (buffer.Length >= MaxResponseBytes)
                throw new InvalidDataException("response too large");
            Array.Resize(ref buffer, buffer.Length * 2);
        }
        var read = await tls.ReadAsync(buffer.AsMemory(end), ct);
        if (read == 0)
            throw new IOException("the server closed the connection");
        end += read;
    }
}
