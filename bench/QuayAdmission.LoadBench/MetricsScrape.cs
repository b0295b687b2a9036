using System.Globalization;

namespace QuayAdmission.LoadBench;

/// <summary>One scrape of the webhook's <c>/metrics</c> (Prometheus text): sample lines as name, labels and value.</summary>
internal sealed class MetricsScrape
{
    private readonly List<(string Name, string Labels, double Value)> samples = [];

    private MetricsScrape()
    {
    }

    public static async Task<MetricsScrape> ReadAsync(HttpClient health, CancellationToken ct)
    {
        var text = await health.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        var scrape = new MetricsScrape();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
                continue;
            // name{label="value",...} 12.5 [timestamp]; label values never hold "} " in our metrics.
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var close = brace < 0 ? -1 : line.IndexOf("} ", brace, StringComparison.Ordinal);
            var (name, labels, rest) = brace >= 0 && close > brace
                ? (line[..brace], line[(brace + 1)..close], line[(close + 2)..])
                : (line[..line.IndexOf(' ', StringComparison.Ordinal)], "", line[(line.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
            if (double.TryParse(rest.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                scrape.samples.Add((name, labels, value));
        }
        return scrape;
    }

    /// <summary>The first sample of <paramref name="name"/> whose labels contain <paramref name="label"/> (e.g. <c>loop="pod-watch"</c>), or null.</summary>
    public double? Value(string name, string? label = null) =>
        samples.Where(s => s.Name == name && (label is null || s.Labels.Contains(label, StringComparison.Ordinal)))
            .Select(s => (double?)s.Value)
            .FirstOrDefault();

    /// <summary>The sum over every sample of <paramref name="name"/> whose labels contain <paramref name="label"/>; 0 when there is none.</summary>
    public double Sum(string name, string? label = null) =>
        samples.Where(s => s.Name == name && (label is null || s.Labels.Contains(label, StringComparison.Ordinal))).Sum(s => s.Value);
}
