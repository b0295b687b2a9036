using Microsoft.Extensions.Logging;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Hardening;

/// <summary>What the hardening tests need beyond <see cref="WebhookHost"/>: raw bytes, and the fake clock moved at the right moment.</summary>
public static class HardeningHost
{
    /// <summary>The bound for "it did not hang": generous, real time, never a measurement.</summary>
    public static readonly TimeSpan NoHang = TimeSpan.FromSeconds(30);

    /// <summary>Posts exact bytes (invalid UTF-8, a BOM, NUL) with any Content-Type header, or none; also returns the answer's media type.</summary>
    public static async Task<(AdmissionResult Result, string? MediaType)> PostBytesAsync(this WebhookHost host, byte[] body, string? contentType)
    {
        using var content = new ByteArrayContent(body);
        if (contentType is not null)
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using var response = await host.Client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
        return (await AdmissionResult.ReadAsync(response), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>
    /// Admits <paramref name="podJson"/> while a dependency is slow or hanging: once <paramref name="pending"/>
    /// says the call is held (and the admission has not answered), moves the fake clock by the inline budget;
    /// the answer must then arrive. Nothing here sleeps: it polls with a deadline.
    /// </summary>
    public static async Task<AdmissionResult> AdmitPastBudgetAsync(this WebhookHost host, string podJson, Func<bool> pending)
    {
        var admission = host.AdmitAsync(podJson);
        Assert.True(await Eventually.TrueAsync(() => admission.IsCompleted || pending(), NoHang), "the faulty call was never made");
        if (!admission.IsCompleted)
            host.Time.Advance(WebhookHost.InlineBudget);
        return await admission.WaitAsync(NoHang);
    }

    /// <summary>Log records at Error or above: an unexpected exception in the webhook shows here.</summary>
    public static IReadOnlyList<string> Errors(this WebhookHost host) =>
        host.Logs.GetSnapshot().Where(r => r.Level >= LogLevel.Error).Select(r => $"{r.Category}: {r.Message} {r.Exception?.GetType().Name}: {r.Exception?.Message}").ToList();
}
