using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

/// <summary>
/// A failure nothing expected (here the annotation cache throws) still gets an admission answer with
/// the uid, allowed or denied as OnTokenFailure says, and one Error line.
/// </summary>
public sealed class CrashTests
{
    [Theory]
    [InlineData("Inject", true, null, "quay-admission: internal error; pod admitted unchanged")]
    [InlineData("Deny", false, 500, "quay-admission: internal error")]
    public async Task An_unexpected_failure_is_answered_as_OnTokenFailure_says(string policy, bool allowed, int? code, string text)
    {
        await using var host = await WebhookHost.StartAsync(
            new Dictionary<string, string?> { ["QuayAdmission:OnTokenFailure"] = policy },
            services: s => s.AddSingleton<IMemoryCache, BrokenCache>());

        // No robot on the Pod: its ServiceAccount's annotations are looked up, and the cache throws.
        var result = await host.AdmitAsync(Pods.Json(robotAccount: null), uid: "uid-crash");

        Assert.Equal(("uid-crash", allowed, code, false), (result.Uid, result.Allowed, result.Code, result.HasPatch));
        Assert.Equal(text, allowed ? Assert.Single(result.Warnings) : result.Message);
        var crash = Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Id == 1004);
        Assert.Equal(LogLevel.Error, crash.Level);
        Assert.Contains("uid-crash", crash.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.Quay.ExchangeCount);
    }

    private sealed class BrokenCache : IMemoryCache
    {
        public bool TryGetValue(object key, out object? value) => throw new InvalidOperationException("the cache is broken");

        public ICacheEntry CreateEntry(object key) => throw new InvalidOperationException("the cache is broken");

        public void Remove(object key)
        {
        }

        public void Dispose()
        {
        }
    }
}
