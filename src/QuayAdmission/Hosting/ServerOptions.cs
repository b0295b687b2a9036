using System.Net;
using Microsoft.Extensions.Options;
using QuayAdmission.Admission;

namespace QuayAdmission.Hosting;

/// <summary>Listeners and connection limits.</summary>
public sealed class ServerOptions
{
    public const string Section = "QuayAdmission:Server";

    public int HttpsPort { get; set; } = 8443;

    public int HealthPort { get; set; } = 8080;

    /// <summary>Any address by default (a pod); 127.0.0.1 for a local run.</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>
    /// kube-apiserver holds one HTTP/2 connection per replica, or one HTTP/1.1 connection per review
    /// in flight; this bounds a misbehaving client, and with <see cref="ConnectionInputBytes"/> the
    /// memory idle connections can pin.
    /// </summary>
    public long MaxConcurrentConnections { get; set; } = 256;

    /// <summary>
    /// Bytes of review bodies held at once, across all requests, from the first byte read until the
    /// answer is written: a review that would go past it is answered 503 at once. Two reviews of the
    /// largest size fit; a typical Pod review is a few KiB.
    /// </summary>
    public long MaxBodyBytesInFlight { get; set; } = 8L * 1024 * 1024;

    /// <summary>
    /// A body must arrive at least this fast (an average, after <see cref="BodyGracePeriod"/>), so a
    /// stalled one is cut: one stalled from the start after the grace period, one stalled after
    /// <c>n</c> bytes after <c>n</c> / this many seconds (14 s at the 3.5 MiB cap). In-cluster links are far faster.
    /// </summary>
    public int MinBodyBytesPerSecond { get; set; } = 256 * 1024;

    public TimeSpan BodyGracePeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Unread request bytes one connection may buffer: Kestrel's request buffer, the socket
    /// transport's read buffer and the HTTP/2 flow-control windows (defaults 1 MiB, 1 MiB, 1 MiB and
    /// 768 KiB) are all set to this, so idle or stalled connections pin little. Hence the ceiling on
    /// what review traffic can hold, whatever mix of slow clients: every body in flight and its decoded
    /// copy, plus twice this per connection (the transport's buffer, then Kestrel's or HTTP/2's):
    /// 2 × 8 MiB + 256 × 128 KiB = 48 MiB with the defaults.
    /// </summary>
    public const int ConnectionInputBytes = 64 * 1024;

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
        if (options.BodyGracePeriod <= TimeSpan.FromSeconds(1))
            failures.Add("QuayAdmission:Server:BodyGracePeriod must be more than 1 second (Kestrel's minimum)");
        if (options.MaxBodyBytesInFlight < AdmissionEndpoint.MaxBodyBytes)
            failures.Add($"QuayAdmission:Server:MaxBodyBytesInFlight must be at least {AdmissionEndpoint.MaxBodyBytes} (one review of the largest size)");
        if (options.MinBodyBytesPerSecond < 1)
            failures.Add("QuayAdmission:Server:MinBodyBytesPerSecond must be at least 1");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
