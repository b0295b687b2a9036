using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>One event of a watch stream, as read off the wire.</summary>
internal sealed record WatchLine(string Type, JsonObject Object, string Raw)
{
    public string? Name => Object["metadata"]?["name"]?.GetValue<string>();

    public string? ResourceVersion => Object["metadata"]?["resourceVersion"]?.GetValue<string>();

    public override string ToString() => $"{Type} {Name} {ResourceVersion}";
}

/// <summary>
/// A watch opened with a plain HttpClient and read line by line, so tests see exactly what a client's
/// own watch decoder would. Every read has a deadline: a missing event fails the test instead of hanging it.
/// </summary>
internal sealed class WatchLines : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private WatchLines(HttpClient http, HttpResponseMessage response, StreamReader reader)
    {
        _http = http;
        _response = response;
        _reader = reader;
    }

    public HttpResponseMessage Response => _response;

    /// <summary>GETs <paramref name="pathAndQuery"/> (which carries <c>watch=true</c>) and returns once the headers are in.</summary>
    public static async Task<WatchLines> OpenAsync(FakeKubernetesApi api, string pathAndQuery)
    {
        var http = new HttpClient { BaseAddress = api.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FakeKubernetesApi.AdminToken);
        var response = await http.GetAsync(new Uri(pathAndQuery, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead).WaitAsync(Deadline);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        return new WatchLines(http, response, reader);
    }

    /// <summary>The next event, or null when the server ended the stream.</summary>
    public async Task<WatchLine?> NextAsync()
    {
        var line = await _reader.ReadLineAsync().WaitAsync(Deadline);
        if (line is null)
        {
            return null;
        }

        var json = JsonNode.Parse(line)!.AsObject();
        return new WatchLine(json["type"]!.GetValue<string>(), json["object"]!.AsObject(), line);
    }

    public async Task<WatchLine> NextEventAsync() => await NextAsync() ?? throw new InvalidOperationException("the watch ended");

    /// <summary>The next event that is not a BOOKMARK.</summary>
    public async Task<WatchLine> NextChangeAsync()
    {
        while (true)
        {
            var next = await NextEventAsync();
            if (next.Type != "BOOKMARK")
            {
                return next;
            }
        }
    }

    public async Task<List<WatchLine>> NextChangesAsync(int count)
    {
        var lines = new List<WatchLine>();
        while (lines.Count < count)
        {
            lines.Add(await NextChangeAsync());
        }

        return lines;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
