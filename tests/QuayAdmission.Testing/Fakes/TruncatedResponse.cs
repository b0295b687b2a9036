using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// A response cut off mid-body, written straight to the connection's socket: the status line, headers
/// that promise more than is sent, part of the body, then the end of the connection. Going past Kestrel
/// keeps it deterministic: an abort through Kestrel can reset the connection before the client has read
/// the headers, and a reset makes the client's kernel drop what it had not read yet.
/// </summary>
internal static class TruncatedResponse
{
    /// <param name="contentLength">The full length to promise; null for a chunked (streamed) body.</param>
    public static async Task SendAsync(HttpContext context, int status, long? contentLength, ReadOnlyMemory<byte> part)
    {
        ArgumentNullException.ThrowIfNull(context);
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket
            ?? throw new InvalidOperationException("a truncated response needs Kestrel's socket transport");
        var framing = contentLength is { } length ? $"Content-Length: {length}" : "Transfer-Encoding: chunked";
        var head = $"HTTP/1.1 {status} {ReasonPhrases.GetReasonPhrase(status)}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n";
        var chunkHeader = contentLength is null ? $"{part.Length:x}\r\n" : "";

        await socket.SendAsync(Encoding.ASCII.GetBytes(head + chunkHeader), SocketFlags.None, context.RequestAborted);
        await socket.SendAsync(part, SocketFlags.None, context.RequestAborted);
        if (context.Response.Body is CountingStream counting)
        {
            counting.Tally(part.Length);
        }

        // FIN after the data: the client reads all that was sent, then finds the body ends early.
        socket.Shutdown(SocketShutdown.Send);
        context.Abort();
    }
}
