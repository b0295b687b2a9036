using QuayAdmission.E2E.Harness;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>The scenario log, the figures file and the polling every scenario reports and waits with.</summary>
public sealed class ReportingTests : IDisposable
{
    private readonly string work = Directory.CreateTempSubdirectory("e2e-reporting-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public async Task Figures_are_one_numbered_line_per_scenario_with_skips_and_failures_said_so()
    {
        var figures = new Figures(Path.Combine(work, "results", "figures.txt"));

        await Task.WhenAll(Enumerable.Range(1, 20).Select(i => Task.Run(() => figures.Measured(i, $"s{i}", $"took {Figures.Seconds(TimeSpan.FromMilliseconds(1234))}"))));
        figures.Skipped(21, "node", "the kubelet binary was not found");
        figures.Failed(22, "failover", "taken over in 30.0 s");

        var lines = await File.ReadAllLinesAsync(figures.FilePath);
        Assert.Equal(22, lines.Length);
        Assert.Contains("[7] s7: took 1.2 s", lines);
        Assert.Equal("[21] node: skipped: the kubelet binary was not found", lines[20]);
        Assert.Equal("[22] failover: FAILED: taken over in 30.0 s", lines[21]);
    }

    [Fact]
    public void The_log_is_written_to_its_file_as_it_goes()
    {
        var log = new ScenarioLog("renewals", Path.Combine(work, "logs"));
        log.Line("first");
        log.Block("heading", "a\nb\n");

        var file = File.ReadAllLines(Path.Combine(work, "logs", "renewals.log"));
        Assert.Equal(4, file.Length);
        Assert.EndsWith("] first", file[0], StringComparison.Ordinal);
        Assert.EndsWith("]     b", file[3], StringComparison.Ordinal);
        Assert.Equal(file, log.Lines);
    }

    [Fact]
    public async Task Poll_returns_once_done_and_times_out_naming_what_it_last_saw()
    {
        var asked = 0;
        Assert.Equal(3, await Poll.UntilAsync("three", TimeSpan.FromSeconds(10), () => Task.FromResult((++asked >= 3, asked)), TimeSpan.FromMilliseconds(1)));

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => Poll.UntilAsync("never", TimeSpan.FromMilliseconds(50),
            () => Task.FromResult((false, new Observed<int>(7, "seven"))), TimeSpan.FromMilliseconds(5)));
        Assert.Contains("never: not within 0.1 s (last seen: seven)", timeout.Message, StringComparison.Ordinal);

        var failing = await Assert.ThrowsAsync<TimeoutException>(() => Poll.UntilAsync<int>("failing", TimeSpan.FromMilliseconds(50),
            () => throw new HttpRequestException("refused"), TimeSpan.FromMilliseconds(5)));
        Assert.Contains("last error: HttpRequestException: refused", failing.Message, StringComparison.Ordinal);

        var asks = 0;
        await Assert.ThrowsAsync<FinalAnswerException>(() => Poll.UntilAsync<int>("final", TimeSpan.FromSeconds(10),
            () => ++asks == 1 ? throw new FinalAnswerException("forbidden") : Task.FromResult((true, 1)), TimeSpan.FromMilliseconds(1)));
        Assert.Equal(1, asks);
    }

    [Fact]
    public async Task Consistently_fails_at_the_first_answer_that_does_not_hold()
    {
        var asked = 0;
        var broken = await Assert.ThrowsAsync<InvalidOperationException>(() => Poll.ConsistentlyAsync("stays up", TimeSpan.FromSeconds(10),
            () => Task.FromResult((++asked < 3, $"answer {asked}")), TimeSpan.FromMilliseconds(1)));
        Assert.Contains("stays up: broken after", broken.Message, StringComparison.Ordinal);
        Assert.EndsWith("answer 3", broken.Message, StringComparison.Ordinal);
    }
}
