namespace QuayAdmission.CredentialProvider.Configuration;

/// <summary>The plugin's share of the webhook's token settings: the same key, the same default.</summary>
public sealed class ProviderOptions
{
    /// <summary><c>QuayAdmission:MinRemaining</c>: the kubelet may cache a token until this much of its life is left.</summary>
    public TimeSpan MinRemaining { get; set; } = TimeSpan.FromMinutes(10);

    public IEnumerable<string> Problems()
    {
        if (MinRemaining <= TimeSpan.Zero)
            yield return "QuayAdmission:MinRemaining must be positive";
    }
}
