namespace QuayAdmission.Background;

/// <summary>
/// Exponential backoff with jitter: <see cref="Base"/> doubled for each failure in a row after the
/// first, capped at <see cref="Max"/>, then 80–100 % of that, so retries that failed together (one
/// outage) do not come back together and never wait past <see cref="Max"/>.
/// </summary>
public readonly record struct Backoff(TimeSpan Base, TimeSpan Max)
{
    /// <summary>client-go's reflector: 800 ms doubling to 30 s between lists and watches that went wrong.</summary>
    public static Backoff Reflector { get; } = new(TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(30));

    /// <summary>The wait after <paramref name="failures"/> failures in a row (1 or more).</summary>
    public TimeSpan Delay(int failures)
    {
        var exponential = Base * Math.Pow(2, Math.Clamp(failures - 1, 0, 30));
        var capped = exponential < Max ? exponential : Max;
        return capped * (0.8 + (Random.Shared.NextDouble() * 0.2));
    }
}
