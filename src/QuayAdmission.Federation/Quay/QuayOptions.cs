using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Quay;

/// <summary>The Quay registries pods may name: the allow-list; the first one is the default.</summary>
public sealed class QuayOptions
{
    public const string Section = "QuayAdmission";

    public List<RegistryOptions> Registries { get; init; } = [];

    /// <summary>How long one federation call may take before it counts as failed.</summary>
    public TimeSpan ExchangeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Exchanges in flight at once across all keys, so a flood of new keys cannot open unbounded connections.</summary>
    public int MaxConcurrentExchanges { get; set; } = 16;

    public IReadOnlyList<string> Hosts => Registries.Select(r => r.Host).ToList();

    public RegistryOptions Registry(string host) =>
        Registries.First(r => string.Equals(r.Host, host, StringComparison.OrdinalIgnoreCase));
}

public sealed class RegistryOptions
{
    /// <summary>The registry host as pods pull from it, e.g. <c>quay.io</c> or <c>quay.example.com:8443</c>.</summary>
    public string Host { get; set; } = "";

    /// <summary>Where the federation endpoint lives; default <c>https://&lt;Host&gt;</c>.</summary>
    public Uri? FederationUrl { get; set; }

    /// <summary>A PEM file of CA certificates trusted for this registry only.</summary>
    public string? CaFile { get; set; }

    /// <summary>The audience of the ServiceAccount token; default the host.</summary>
    public string? Audience { get; set; }

    public Uri EffectiveFederationUrl => FederationUrl ?? new Uri("https://" + Host);

    public string EffectiveAudience => string.IsNullOrEmpty(Audience) ? Host : Audience;
}

public sealed class QuayOptionsValidator : IValidateOptions<QuayOptions>
{
    public ValidateOptionsResult Validate(string? name, QuayOptions options)
    {
        var failures = new List<string>();
        if (options.Registries.Count == 0)
            failures.Add("QuayAdmission:Registries must name at least one registry (QuayAdmission__Registries__0__Host=quay.io)");
        if (options.ExchangeTimeout <= TimeSpan.Zero)
            failures.Add("QuayAdmission:ExchangeTimeout must be positive");
        if (options.MaxConcurrentExchanges < 1)
            failures.Add("QuayAdmission:MaxConcurrentExchanges must be at least 1");

        for (var i = 0; i < options.Registries.Count; i++)
        {
            var registry = options.Registries[i];
            var at = $"QuayAdmission:Registries:{i}";
            if (string.IsNullOrWhiteSpace(registry.Host) || !Uri.TryCreate("https://" + registry.Host, UriKind.Absolute, out var uri)
                || !string.Equals(uri.Authority, registry.Host, StringComparison.OrdinalIgnoreCase) || registry.Host.Contains('/', StringComparison.Ordinal))
                failures.Add($"{at}:Host '{registry.Host}' must be a host name with an optional port, no scheme or path");
            if (options.Registries.Take(i).Any(r => string.Equals(r.Host, registry.Host, StringComparison.OrdinalIgnoreCase)))
                failures.Add($"{at}:Host '{registry.Host}' is listed twice");
            if (registry.FederationUrl is { } url && (!url.IsAbsoluteUri || url.Scheme is not ("https" or "http")))
                failures.Add($"{at}:FederationUrl must be an absolute http(s) URL");
            if (registry.CaFile is { Length: > 0 } caFile && LoadCaError(caFile) is { } error)
                failures.Add($"{at}:CaFile {error}");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string? LoadCaError(string path)
    {
        try
        {
            var certificates = new X509Certificate2Collection();
            certificates.ImportFromPemFile(path);
            return certificates.Count == 0 ? $"'{path}' holds no PEM certificate" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            return $"'{path}' cannot be read: {e.Message}";
        }
    }
}
