using Microsoft.Extensions.Options;
using QuayAdmission.Quay;

namespace QuayAdmission.PullSecrets;

public enum TokenFailurePolicy
{
    /// <summary>Admit the pod with the Secret name, warn, and leave a placeholder for the refresher.</summary>
    Inject,

    /// <summary>Reject the pod with the reason.</summary>
    Deny,
}

/// <summary>
/// When tokens are reused and renewed, how exchanges are shared out and retried, and what admission
/// does when it cannot get one.
/// </summary>
public sealed class TokenOptions
{
    public const string Section = "QuayAdmission";

    /// <summary>Reuse a token only with at least this much life left.</summary>
    public TimeSpan MinRemaining { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The refresher renews once this share of a token's lifetime is used.</summary>
    public double RefreshFraction { get; set; } = 0.5;

    /// <summary>Time admission may spend minting; must stay well under the webhook's timeoutSeconds.</summary>
    public TimeSpan InlineBudget { get; set; } = TimeSpan.FromSeconds(2);

    public TokenFailurePolicy OnTokenFailure { get; set; } = TokenFailurePolicy.Inject;

    /// <summary>Exchanges of one namespace at once; unset: a quarter of MaxConcurrentExchanges, at least one.</summary>
    public int? MaxExchangesPerNamespace { get; set; }

    /// <summary>Admission's first pause before retrying a key whose exchange failed (timeout, 5xx, unreachable).</summary>
    public TimeSpan FailureBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Admission's first pause after Quay or the API refused the key (4xx): longer, as a retry hears the same.</summary>
    public TimeSpan RefusalBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The pause doubles with each failure in a row up to this.</summary>
    public TimeSpan FailureBackoffMax { get; set; } = TimeSpan.FromMinutes(5);

    public int ExchangesPerNamespace(int maxConcurrentExchanges) =>
        MaxExchangesPerNamespace ?? Math.Max(1, maxConcurrentExchanges / 4);
}

internal sealed class TokenOptionsValidator(IOptions<QuayOptions> quay) : IValidateOptions<TokenOptions>
{
    // kube-apiserver caps a webhook's timeoutSeconds at 30; the budget has to fit inside it.
    private static readonly TimeSpan MaxInlineBudget = TimeSpan.FromSeconds(25);

    public ValidateOptionsResult Validate(string? name, TokenOptions options)
    {
        var failures = new List<string>();
        if (options.MinRemaining <= TimeSpan.Zero)
            failures.Add("QuayAdmission:MinRemaining must be positive");
        if (options.RefreshFraction is <= 0 or >= 1 || double.IsNaN(options.RefreshFraction))
            failures.Add("QuayAdmission:RefreshFraction must be between 0 and 1 (exclusive)");
        if (options.InlineBudget <= TimeSpan.Zero || options.InlineBudget > MaxInlineBudget)
            failures.Add($"QuayAdmission:InlineBudget must be positive and at most {MaxInlineBudget.TotalSeconds:0} s");
        if (!Enum.IsDefined(options.OnTokenFailure))
            failures.Add("QuayAdmission:OnTokenFailure must be Inject or Deny");
        var maxConcurrent = quay.Value.MaxConcurrentExchanges;
        if (options.MaxExchangesPerNamespace is < 1 || options.MaxExchangesPerNamespace > maxConcurrent)
            failures.Add($"QuayAdmission:MaxExchangesPerNamespace must be between 1 and MaxConcurrentExchanges ({maxConcurrent})");
        if (options.FailureBackoff <= TimeSpan.Zero)
            failures.Add("QuayAdmission:FailureBackoff must be positive");
        if (options.RefusalBackoff < options.FailureBackoff)
            failures.Add("QuayAdmission:RefusalBackoff must be at least FailureBackoff");
        if (options.FailureBackoffMax < options.RefusalBackoff || options.FailureBackoffMax < options.FailureBackoff)
            failures.Add("QuayAdmission:FailureBackoffMax must be at least FailureBackoff and RefusalBackoff");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
