using Microsoft.Extensions.Options;

namespace QuayAdmission.Robots;

/// <summary>How long ServiceAccount and Namespace annotations are trusted from memory, and who may use which robot.</summary>
public sealed class RobotOptions
{
    public const string Section = "QuayAdmission";

    /// <summary>ServiceAccount and Namespace annotations are re-read in the background once older than this.</summary>
    public TimeSpan ScopeCacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Optional allow-list: when set, a namespace may only use robots a rule grants it.</summary>
    public List<AllowedRobotsRule> AllowedRobots { get; init; } = [];
}

/// <summary>Namespaces matching <see cref="Namespaces"/> (a glob, <c>*</c> any run) may use robots matching any of <see cref="Robots"/>.</summary>
public sealed class AllowedRobotsRule
{
    public string Namespaces { get; set; } = "";

    /// <summary>Globs over the robot name (<c>acme+team_a*</c>) or, with a slash, over <c>host/robot</c>.</summary>
    public List<string> Robots { get; init; } = [];
}

internal sealed class RobotOptionsValidator : IValidateOptions<RobotOptions>
{
    public ValidateOptionsResult Validate(string? name, RobotOptions options)
    {
        var failures = new List<string>();
        if (options.ScopeCacheTtl <= TimeSpan.Zero)
            failures.Add("QuayAdmission:ScopeCacheTtl must be positive");
        for (var i = 0; i < options.AllowedRobots.Count; i++)
        {
            var rule = options.AllowedRobots[i];
            if (string.IsNullOrWhiteSpace(rule.Namespaces))
                failures.Add($"QuayAdmission:AllowedRobots:{i}:Namespaces must be a namespace or a glob");
            if (rule.Robots.Count == 0 || rule.Robots.Any(string.IsNullOrWhiteSpace))
                failures.Add($"QuayAdmission:AllowedRobots:{i}:Robots must list at least one robot or glob");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
