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
    /// Opens <paramref name="relativeUri"/> (a list URL with <c>watch=true</c>) and hands each event
    /// line to <paramref name="onEvent"/> until the server ends the stream. A non-2xx answer throws
    /// <see cref="WatchFailedException"/>; the client's timeout applies to the headers only (without
    /// it a watch whose answer never comes would wait for the caller's much longer bound), the stream
    /// itself is bounded by the caller's token.
    /// </summary>
    public async Task ReadAsync(string relativeUri, Action<WatchLine> onEvent, CancellationToken ct)
    {
        using var response = await api.OpenWatchAsync(relativeUri, ct);
        if (!response.IsSuccessStatusCode)
            throw new WatchFailedException(response.StatusCode);

        await using var body = await response.Content.ReadAsStreamAsync(ct);
        using var reader = new StreamReader(body);
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length > 0)
                onEvent(WatchLine.Parse(line));
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

    public static WatchLine Parse(string line)
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
