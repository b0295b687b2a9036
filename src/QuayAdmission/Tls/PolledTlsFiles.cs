namespace QuayAdmission.Tls;

/// <summary>
/// TLS material read from files and polled: a Secret or ConfigMap volume swaps a <c>..data</c>
/// symlink, so file events are unreliable. A poll that finds the same bytes reloads nothing, and a
/// change the subclass rejects keeps what it had.
/// </summary>
public abstract class PolledTlsFiles(string[]? paths, TimeSpan interval, TimeProvider time) : BackgroundService
{
    private byte[][] seen = [];

    protected TimeProvider Time => time;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (paths is null)
            return;
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            Reload();
    }

    /// <summary>Loads the files if their bytes changed. True when new material is now in use.</summary>
    public bool Reload()
    {
        if (paths is null)
            return false;
        byte[][] contents;
        try
        {
            contents = paths.Select(File.ReadAllBytes).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            Unreadable(e.Message);
            return false;
        }
        if (contents.Length == seen.Length && contents.Zip(seen).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second)))
            return false;

        // Remembered even when Load rejects them, so a bad file is reported once, not on every poll.
        seen = contents;
        return Load(contents);
    }

    /// <summary>Parses the files' contents (in the order of the paths) and swaps them in; false when they are rejected.</summary>
    protected abstract bool Load(byte[][] contents);

    protected abstract void Unreadable(string reason);
}
