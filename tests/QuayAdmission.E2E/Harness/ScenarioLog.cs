using System.Globalization;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// What one scenario did and saw, line by line with the time since it started, kept in memory (the
/// test prints it) and written as it happens to <c>logs/&lt;scenario&gt;.log</c>, so a run that hangs
/// still leaves its trace. Never give it a token.
/// </summary>
internal sealed class ScenarioLog
{
    private readonly Lock gate = new();
    private readonly List<string> lines = [];
    private readonly string? file;
    private readonly DateTime started = DateTime.UtcNow;

    public ScenarioLog(string name, string? logsDir)
    {
        Name = name;
        if (logsDir is not null)
        {
            Directory.CreateDirectory(logsDir);
            file = Path.Combine(logsDir, name + ".log");
            File.WriteAllText(file, "");
        }
    }

    public string Name { get; }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (gate)
                return [.. lines];
        }
    }

    public void Line(string text)
    {
        var stamped = string.Create(CultureInfo.InvariantCulture, $"[{(DateTime.UtcNow - started).TotalSeconds,7:0.0}s] {text}");
        lock (gate)
        {
            lines.Add(stamped);
            if (file is not null)
                File.AppendAllText(file, stamped + "\n");
        }
    }

    /// <summary>A block of text (diagnostics), each line indented under a heading.</summary>
    public void Block(string heading, string text)
    {
        Line(heading);
        foreach (var line in text.TrimEnd().Split('\n'))
            Line("    " + line.TrimEnd('\r'));
    }
}

/// <summary>
/// One line per scenario with what it measured, e.g. <c>[2] failover: ... taken over in 16.4 s</c>,
/// in <c>figures.txt</c>; `make e2e` prints the file at the end. Skips are written too, with their reason,
/// so a run that proved nothing says so beside the counts.
/// </summary>
internal sealed class Figures(string file)
{
    private static readonly Lock Gate = new();

    public string FilePath { get; } = file;

    public void Measured(int number, string scenario, string figure) => Write(number, scenario, figure);

    public void Skipped(int number, string scenario, string reason) => Write(number, scenario, "skipped: " + reason);

    public void Failed(int number, string scenario, string figure) => Write(number, scenario, "FAILED: " + figure);

    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private void Write(int number, string scenario, string text)
    {
        lock (Gate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
            File.AppendAllText(FilePath, $"[{number}] {scenario}: {text}\n");
        }
    }
}
