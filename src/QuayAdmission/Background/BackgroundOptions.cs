using Microsoft.Extensions.Options;

namespace QuayAdmission.Background;

/// <summary>How a supervised background loop waits after a fault before it tries again.</summary>
public sealed class BackgroundOptions
{
    public const string Section = "QuayAdmission:Background";

    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An outage longer than this is retried at this pace: short enough to recover promptly, long enough not to hammer a struggling API.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(30);
}

internal sealed class BackgroundOptionsValidator : IValidateOptions<BackgroundOptions>
{
    public ValidateOptionsResult Validate(string? name, BackgroundOptions options) =>
        options.BackoffBase > TimeSpan.Zero && options.BackoffMax >= options.BackoffBase
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("QuayAdmission:Background BackoffBase must be positive and at most BackoffMax");
}
