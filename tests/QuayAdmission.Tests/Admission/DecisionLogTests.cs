using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

/// <summary>
/// One line per decision, at the level it deserves: a decision that minted, degraded or denied is
/// Information; the routine one, every token from memory, is Debug.
/// </summary>
public sealed class DecisionLogTests : IAsyncLifetime
{
    private const int Decided = 1001;
    private const int DecidedFromCache = 1005;

    private WebhookHost host = null!;

    // appsettings.json says Information; the routine line is only seen with Debug turned on.
    public async Task InitializeAsync() =>
        host = await WebhookHost.StartAsync(new Dictionary<string, string?> { ["Logging:LogLevel:QuayAdmission"] = "Debug" });

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task A_mint_is_Information_and_the_cache_hit_after_it_is_Debug()
    {
        host.Trust("acme+puller");

        Assert.True((await host.AdmitAsync(Pods.Json(), uid: "uid-mint")).HasPatch);
        Assert.True((await host.AdmitAsync(Pods.Json(), uid: "uid-cached")).HasPatch);

        var mint = DecisionOf("uid-mint");
        Assert.Equal((Decided, LogLevel.Information), (mint.Id.Id, mint.Level));
        var cached = DecisionOf("uid-cached");
        Assert.Equal((DecidedFromCache, LogLevel.Debug), (cached.Id.Id, cached.Level));
        Assert.Contains("team-a/web-0: patched robots=acme+puller", cached.Message, StringComparison.Ordinal);
        Assert.Equal(1, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task A_degraded_admission_is_Information_every_time()
    {
        // Quay trusts nobody: no token, a placeholder, and a warning on every admission.
        Assert.NotEmpty((await host.AdmitAsync(Pods.Json(), uid: "uid-degraded-1")).Warnings);
        Assert.NotEmpty((await host.AdmitAsync(Pods.Json(), uid: "uid-degraded-2")).Warnings);

        Assert.All(new[] { DecisionOf("uid-degraded-1"), DecisionOf("uid-degraded-2") },
            record => Assert.Equal((Decided, LogLevel.Information), (record.Id.Id, record.Level)));
    }

    [Fact]
    public async Task A_denial_is_Information()
    {
        var denied = await host.AdmitAsync(Pods.Json(robotAccount: "not a robot"), uid: "uid-denied");

        Assert.False(denied.Allowed);
        var record = DecisionOf("uid-denied");
        Assert.Equal((Decided, LogLevel.Information), (record.Id.Id, record.Level));
    }

    [Fact]
    public async Task A_dry_run_and_a_pod_without_robots_are_routine()
    {
        Assert.True((await host.AdmitAsync(Pods.Json(), uid: "uid-dry", dryRun: true)).HasPatch);
        Assert.False((await host.AdmitAsync(Pods.Json(robotAccount: null), uid: "uid-plain")).HasPatch);

        Assert.All(new[] { DecisionOf("uid-dry"), DecisionOf("uid-plain") },
            record => Assert.Equal((DecidedFromCache, LogLevel.Debug), (record.Id.Id, record.Level)));
        Assert.Equal(0, host.Quay.ExchangeCount);
    }

    private FakeLogRecord DecisionOf(string uid) =>
        Assert.Single(host.Logs.GetSnapshot(), r => r.Id.Id is Decided or DecidedFromCache && r.Message.Contains(uid, StringComparison.Ordinal));
}
