using System.Net;
using Microsoft.Extensions.Options;

namespace QuayAdmission.Hosting;

/// <summary>Listeners and connection limits.</summary>
public sealed class ServerOptions
{
    public const string Section = "QuayAdmission:Server";

    public int HttpsPort { get; set; } = 8443;

    public int HealthPort { get; set; } = 8080;

    /// <summary>Any address by default (a pod); 127.0.0.1 for a local run.</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>kube-apiserver keeps a few connections per replica; this only bounds a misbehaving client.</summary>
    public long MaxConcurrentConnections { get; set; } = 1000;

    /// <summary>Headers must arrive promptly: mitigates slowloris.</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time in-flight reviews get to finish after SIGTERM.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(25);
}

internal sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
{
    public ValidateOptionsResult Validate(string? name, ServerOptions options)
    {
        var failures = new List<string>();
        if (options.HttpsPort is < 0 or > 65535 || options.HealthPort is < 0 or > 65535)
            failures.Add("QuayAdmission:Server ports must be between 0 and 65535");
        if (options.HttpsPort == options.HealthPort && options.HttpsPort != 0)
            failures.Add("QuayAdmission:Server:HttpsPort and HealthPort must differ");
        if (!IPAddress.TryParse(options.BindAddress, out _))
            failures.Add($"QuayAdmission:Server:BindAddress '{options.BindAddress}' is not an IP address");
        if (options.MaxConcurrentConnections < 1)
            failures.Add("QuayAdmission:Server:MaxConcurrentConnections must be at least 1");
        if (options.RequestHeadersTimeout <= TimeSpan.Zero || options.ShutdownTimeout < TimeSpan.Zero)
            failures.Add("QuayAdmission:Server timeouts must be positive");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
