using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text.Json;

namespace QuayAdmission.Kubernetes.Watching;

/// <summary>
/// One watch request and its stream of newline-delimited events, written here because
/// KubernetesClient.Aot has no Watcher. The request goes through <see cref="KubernetesApi"/>, so TLS,
/// the bearer token and any test handlers are the same as for every other call.
/// </summary>
public sealed class WatchClient(KubernetesApi api)
{
    /// <summary>
    /// The largest event line accepted. etcd keeps objects of at most 1.5 MiB and the API server
    /// decodes requests of at most 3 MiB; an event is one object in a small envelope. A longer line
    /// is not an event the API could send, and reading it whole would let it fill the memory.
    /// </summary>
    public const int MaxEventBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Opens <paramref name="relativeUri"/> (a list URL with <c>watch=true</c>) and hands each event
    /// line to <paramref name="onEvent"/> until the server ends the stream; returns how many events
    /// came. A non-2xx answer, or a line over <see cref="MaxEventBytes"/>, throws
    /// <see cref="WatchFailedException"/>; the client's timeout applies to the headers only (without
    /// it a watch whose answer never comes would wait for the caller's much longer bound), the stream
    /// itself is bounded by the caller's token.
    /// </summary>
    public async Task<int> ReadAsync(string relativeUri, Action<WatchLine> onEvent, CancellationToken ct)
    {
        using var response = await api.OpenWatchAsync(relativeUri, ct);
        if (!response.IsSuccessStatusCode)
            throw new WatchFailedException(response.StatusCode);

        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var reader = PipeReader.Create(body, new StreamPipeReaderOptions(leaveOpen: true));
        var events = 0;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(ct);
                var buffer = read.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var line = buffer.Slice(0, end);
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                    if (line.Length > MaxEventBytes)
                        throw new WatchFailedException($"a watch event larger than {MaxEventBytes} bytes");
                    if (!line.IsEmpty)
                    {
                        onEvent(WatchLine.Parse(line));
                        events++;
                    }
                }
                if (buffer.Length > MaxEventBytes)
                    throw new WatchFailedException($"a watch event larger than {MaxEventBytes} bytes");
                // The API ends every event with a newline: what is left at the end is a cut-off event, and the next watch resumes before it.
                if (read.IsCompleted)
                    return events;
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }
}

/// <summary>One event of a watch: its type and the raw object, decoded by whoever knows its type.</summary>
public readonly record struct WatchLine(string Type, JsonElement Object)
{
    public const string Added = "ADDED";
    public const string Modified = "MODIFIED";
    public const string Deleted = "DELETED";
    public const string Bookmark = "BOOKMARK";
    public const string Error = "ERROR";

    public static WatchLine Parse(ReadOnlySequence<byte> line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
            || !root.TryGetProperty("object", out var value) || value.ValueKind != JsonValueKind.Object)
            throw new WatchFailedException("a watch event without type or object");
        return new WatchLine(type.GetString()!, value.Clone());
    }

    /// <summary>The object's metadata.resourceVersion; bookmarks carry nothing else.</summary>
    public string? ResourceVersion =>
        Object.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
        && metadata.TryGetProperty("resourceVersion", out var rv) && rv.ValueKind == JsonValueKind.String
            ? rv.GetString()
            : null;

    /// <summary>For ERROR events: the Status object's code (410 when the resourceVersion is too old).</summary>
    public int? StatusCode =>
        Object.TryGetProperty("code", out var code) && code.TryGetInt32(out var value) ? value : null;
}

/// <summary>The watch could not go on: the server refused it, or sent what a watch cannot carry.</summary>
public class WatchFailedException : Exception
{
    public WatchFailedException(HttpStatusCode status)
        : base($"watch answered {(int)status}") => Status = status;

    public WatchFailedException(string message)
        : base(message)
    {
    }

    public HttpStatusCode? Status { get; }
}
