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

    /// <summary>
    /// Lets a FederationUrl be plain http, which sends ServiceAccount tokens in clear text: for a
    /// local stand-in only. Logged as a warning at start for every registry that uses it.
    /// </summary>
    public bool AllowInsecureHttp { get; set; }

    public IReadOnlyList<string> Hosts => Registries.Select(r => r.Host).ToList();

    public RegistryOptions Registry(string host) =>
        Registries.First(r => string.Equals(r.Host, host, StringComparison.OrdinalIgnoreCase));
}

public sealed class RegistryOptions
{
    private const string TokenPath = "oauth2/federation/robot/token";

    /// <summary>The registry host as pods pull from it, e.g. <c>quay.io</c> or <c>quay.example.com:8443</c>.</summary>
    public string Host { get; set; } = "";

    /// <summary>Where the federation endpoint lives; default <c>https://&lt;Host&gt;</c>. A path is kept.</summary>
    public Uri? FederationUrl { get; set; }

    /// <summary>A PEM file of the root (and any intermediate) CA certificates trusted for this registry only.</summary>
    public string? CaFile { get; set; }

    /// <summary>The audience of the ServiceAccount token; default the host.</summary>
    public string? Audience { get; set; }

    public Uri EffectiveFederationUrl => FederationUrl ?? new Uri("https://" + Host);

    /// <summary>
    /// The token endpoint under <see cref="EffectiveFederationUrl"/>, whose path is kept with or without
    /// a trailing slash: <c>https://h/quay</c> and <c>https://h/quay/</c> both give <c>https://h/quay/oauth2/...</c>.
    /// </summary>
    public Uri TokenEndpoint
    {
        get
        {
            var url = EffectiveFederationUrl;
            return new UriBuilder(url) { Path = url.AbsolutePath.TrimEnd('/') + "/" + TokenPath }.Uri;
        }
    }

    public bool IsInsecure => EffectiveFederationUrl.Scheme == Uri.UriSchemeHttp;

    public string EffectiveAudience => string.IsNullOrEmpty(Audience) ? Host : Audience;
}

public sealed class QuayOptionsValidator : IValidateOptions<QuayOptions>
{
    public ValidateOptionsResult Validate(string? name, QuayOptions options)
    {
        var failures = Problems(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Every problem with the settings, each naming its key; empty when they are usable.</summary>
    public static IReadOnlyList<string> Problems(QuayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
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
            if (registry.FederationUrl is { } url && FederationUrlProblem(url, options.AllowInsecureHttp) is { } urlProblem)
                failures.Add($"{at}:FederationUrl {urlProblem}");
            if (registry.CaFile is { Length: > 0 } caFile)
            {
                if (RegistryTrust.Problem(caFile) is { } caProblem)
                    failures.Add($"{at}:CaFile {caProblem}");
                if (registry.FederationUrl is { IsAbsoluteUri: true } plain && plain.Scheme == Uri.UriSchemeHttp)
                    failures.Add($"{at}:CaFile is set but FederationUrl is http, where no certificate is checked");
            }
        }
        return failures;
    }

    private static string? FederationUrlProblem(Uri url, bool allowInsecureHttp)
    {
        if (!url.IsAbsoluteUri || url.Scheme is not ("https" or "http"))
            return "must be an absolute https URL";
        // The ServiceAccount token travels in the Authorization header: in clear text over http.
        if (url.Scheme == Uri.UriSchemeHttp && !allowInsecureHttp)
            return $"'{url}' must be https (http sends ServiceAccount tokens in clear text; QuayAdmission:AllowInsecureHttp=true permits it for local testing only)";
        if (url.UserInfo.Length > 0 || url.Query.Length > 0 || url.Fragment.Length > 0)
            return "must have no user, query or fragment: only a scheme, host, port and path";
        return null;
    }
}
