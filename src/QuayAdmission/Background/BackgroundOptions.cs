using Microsoft.Extensions.Options;
using QuayAdmission.Kubernetes.Watching;

namespace QuayAdmission.Background;

/// <summary>How a supervised background loop waits after a fault before it tries again.</summary>
public sealed class BackgroundOptions
{
    public const string Section = "QuayAdmission:Background";

    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An outage longer than this is retried at this pace: short enough to recover promptly, long enough not to hammer a struggling API.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The server-side timeout a watch asks for, randomised up to twice this (client-go uses 5–10 min).</summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long past its timeout a silent watch is given before the client cuts it.</summary>
    public TimeSpan WatchGrace { get; set; } = TimeSpan.FromSeconds(30);

    public InformerSettings Informer => new(WatchTimeout, WatchGrace);
}

internal sealed class BackgroundOptionsValidator : IValidateOptions<BackgroundOptions>
{
    public ValidateOptionsResult Validate(string? name, BackgroundOptions options)
    {
        var failures = new List<string>();
        if (options.BackoffBase <= TimeSpan.Zero || options.BackoffMax < options.BackoffBase)
            failures.Add("QuayAdmission:Background BackoffBase must be positive and at most BackoffMax");
        if (options.WatchTimeout < TimeSpan.FromSeconds(1) || options.WatchGrace <= TimeSpan.Zero)
            failures.Add("QuayAdmission:Background WatchTimeout must be at least 1 s and WatchGrace positive");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
