using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

/// <summary>One tenant naming many slow robots holds at most its share of the exchanges; the others proceed.</summary>
public sealed class NamespaceFairnessTests
{
    [Fact]
    public async Task A_namespace_saturating_its_share_does_not_starve_another()
    {
        await using var shared = await SharedStandIns.StartAsync();
        await using var hanging = await FakeQuay.StartAsync(shared.Time);
        hanging.Behaviour = QuayBehaviour.Never;
        await using var host = await WebhookHost.StartAsync(new Dictionary<string, string?>
        {
            ["QuayAdmission:Registries:1:Host"] = hanging.Host,
            ["QuayAdmission:Registries:1:FederationUrl"] = hanging.BaseAddress.ToString(),
            ["QuayAdmission:MaxConcurrentExchanges"] = "4",
            ["QuayAdmission:MaxExchangesPerNamespace"] = "2",
            // The hung calls must outlast the test, not time out and free their slots.
            ["QuayAdmission:ExchangeTimeout"] = "00:10:00",
        }, shared: shared);
        host.Trust("acme+teamb", ns: "team-b");

        // Team A names four robots of a registry that never answers: as many as the global limit.
        var slow = Enumerable.Range(0, 4)
            .Select(i => host.AdmitAsync(Pods.Json(robotAccount: $"{hanging.Host}/acme+teama{i}", name: $"a-{i}", ns: "team-a")))
            .ToList();
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Count("secrets.get") == 4 && hanging.ExchangeCount >= 2),
            "team A's exchanges did not start");

        // Team B's admission is answered with a token, without the clock moving past its budget.
        var admission = host.AdmitAsync(Pods.Json(robotAccount: "acme+teamb", ns: "team-b"));
        Assert.True(await Eventually.TrueAsync(() => admission.IsCompleted), "team B waited behind team A");
        var result = await admission;

        Assert.True(result.Allowed && result.HasPatch, result.Body);
        Assert.Empty(result.Warnings);
        Assert.Equal(1, host.Quay.ExchangeCount);
        Assert.NotNull(PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-b", PullSecretKey.NameFor("default", host.RegistryHost, "acme+teamb"))!));

        // Team A held its share and no more; past their budget its admissions degrade as configured.
        Assert.Equal(2, hanging.ExchangeCount);
        Assert.Equal(3, host.Kube.Count("tokenrequest"));
        Assert.All(slow, a => Assert.False(a.IsCompleted));
        host.Time.Advance(WebhookHost.InlineBudget);
        var degraded = await Task.WhenAll(slow).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(degraded, r => Assert.True(r.Allowed && r.HasPatch && r.Warnings.Count == 1, r.Body));
    }
}
