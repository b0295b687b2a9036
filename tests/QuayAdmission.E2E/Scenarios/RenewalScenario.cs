using System.Diagnostics;
using QuayAdmission.E2E.Harness;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.E2E.Scenarios;

/// <summary>
/// 3. Robot tokens of 120 s, renewed at half-life by the main group's leader: for four half-lives, each
/// Secret is renewed in place (one uid, new resourceVersion and expires-at) about once per half-life, and
/// every token Quay issued for the key is the one its Secret then held (a second replica renewing too
/// would show as a token nobody kept, or two exchanges within seconds). A Secret a Pod lists, deleted,
/// comes back with a token. No token appears in the webhook's logs.
/// </summary>
internal sealed class RenewalScenario : IScenario
{
    private const string Ns = E2ENamespaces.Renewal;
    private const string Robot = "acme+puller";
    private static readonly string[] Renewed = ["renew-a", "renew-b"];
    private const string Recreated = "recreate";

    public int Number => 3;

    public string Name => "renewals";

    public async Task<string> RunAsync(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Watch(context.Main);
        await context.CreateNamespaceAsync(Ns, context.Main.Spec.Name, [.. Renewed, Recreated]);
        foreach (var serviceAccount in Renewed.Append(Recreated))
        {
            context.Trust(Robot, Ns, serviceAccount);
            await context.CreatePodAsync(E2EPods.Json(Ns, $"pod-{serviceAccount}", serviceAccount, Robot));
        }
        var names = Renewed.Append(Recreated).ToDictionary(sa => sa, sa => SecretNames.For(E2ESettings.RegistryHost, Robot, sa));
        foreach (var (serviceAccount, name) in names)
            Assert.Equal(Robot, (await context.SecretWithTokenAsync(Ns, name, TimeSpan.FromSeconds(60))).Username);

        var renewalsBefore = await RenewalCountsAsync(context);
        var window = 4 * E2ESettings.HalfLife;
        var windowStart = DateTimeOffset.UtcNow;
        var seen = Renewed.ToDictionary(sa => sa, _ => new List<PullSecretView>());

        // The deleted Secret comes back while the renewals go on.
        var recreate = RecreateAsync(context, names[Recreated]);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < window)
        {
            foreach (var serviceAccount in Renewed)
            {
                if (await context.Api.PullSecretAsync(Ns, names[serviceAccount]) is { } view && (seen[serviceAccount].Count == 0 || seen[serviceAccount][^1] != view))
                {
                    seen[serviceAccount].Add(view);
                    context.Log.Line($"{serviceAccount}: {view}");
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        var windowEnd = DateTimeOffset.UtcNow;
        var back = await recreate;

        var expected = window / E2ESettings.HalfLife;
        var settled = windowEnd - E2ESettings.ResyncInterval - TimeSpan.FromSeconds(5);
        var results = Renewed.Select(serviceAccount =>
        {
            var views = seen[serviceAccount];
            var exchanges = context.Exchanges(Robot, Ns, serviceAccount).Where(e => e.Succeeded).ToList();
            // Every token issued in the window (but its last seconds, which the poll may not have seen yet) was the one the Secret held.
            var kept = views.Select(v => v.Token).ToHashSet();
            var wasted = exchanges.Count(e => e.At >= windowStart && e.At < settled && !kept.Contains(e.IssuedToken));
            return (ServiceAccount: serviceAccount, Views: views, Renewals: views.Select(v => v.ExpiresAt).Distinct().Count() - 1, Exchanges: exchanges, Wasted: wasted);
        }).ToList();
        var renewalsAfter = await RenewalCountsAsync(context);
        var byReplica = string.Join(", ", renewalsAfter.Select(r => $"{r.Key} {r.Value - renewalsBefore.GetValueOrDefault(r.Key):0}"));
        context.Measured($"over {Figures.Seconds(window)} (half-life {Figures.Seconds(E2ESettings.HalfLife)}): in-place renewals {string.Join(", ", results.Select(r => $"{r.ServiceAccount} {r.Renewals}"))}, tokens issued but never kept {results.Sum(r => r.Wasted)}; renewals of the main group by replica meanwhile: {byReplica}");
        context.Measured($"deleted Secret back with a token after {Figures.Seconds(back)}");

        foreach (var (serviceAccount, views, renewals, exchanges, wasted) in results)
        {
            Assert.True(views.Select(v => v.Uid).Distinct().Count() == 1, $"{serviceAccount}: the Secret was replaced, not updated in place: uids {string.Join(", ", views.Select(v => v.Uid).Distinct())}");
            Assert.True(views.Select(v => v.ResourceVersion).Distinct().Count() > renewals, $"{serviceAccount}: a renewal without a new resourceVersion");
            Assert.True(renewals >= expected - 1 && renewals <= expected + 1,
                $"{serviceAccount}: {renewals} renewals in {Figures.Seconds(window)}, expected about one per half-life ({expected:0})");
            AssertOneRenewerAtATime(serviceAccount, exchanges);
            Assert.True(wasted == 0, $"{serviceAccount}: {wasted} tokens issued for the key were never in its Secret (a second renewer?)");
        }

        var tokens = context.Quay.Exchanges.Where(e => e.IssuedToken is not null).Select(e => e.IssuedToken!).ToList();
        foreach (var replica in context.Main.Replicas)
            Assert.DoesNotContain(replica.Lines, line => tokens.Exists(token => line.Contains(token, StringComparison.Ordinal)));
        return string.Join("; ", context.Figures);
    }

    /// <summary>Consecutive exchanges of one key at least half a half-life apart: two renewers would be seconds apart.</summary>
    private static void AssertOneRenewerAtATime(string serviceAccount, List<ExchangeRecord> exchanges)
    {
        for (var i = 1; i < exchanges.Count; i++)
        {
            var gap = exchanges[i].At - exchanges[i - 1].At;
            Assert.True(gap >= E2ESettings.HalfLife / 2,
                $"{serviceAccount}: two exchanges {Figures.Seconds(gap)} apart ({exchanges[i - 1].At:HH:mm:ss.f}, {exchanges[i].At:HH:mm:ss.f})");
        }
    }

    private static async Task<TimeSpan> RecreateAsync(ScenarioContext context, string name)
    {
        var before = (await context.Api.PullSecretAsync(Ns, name))!;
        var clock = Stopwatch.StartNew();
        await context.Admin.MustAsync("-n", Ns, "delete", "secret", name);
        var back = await context.SecretWithTokenAsync(Ns, name, TimeSpan.FromSeconds(90), notUid: before.Uid);
        var elapsed = clock.Elapsed;
        context.Log.Line($"{name} back: {back}");
        Assert.Equal(Robot, back.Username);
        return elapsed;
    }

    private static async Task<Dictionary<string, double>> RenewalCountsAsync(ScenarioContext context)
    {
        var counts = new Dictionary<string, double>();
        foreach (var replica in context.Main.Running)
            counts[replica.Identity] = await replica.CounterAsync("quay_admission_renewals_total", ("result", "ok"));
        return counts;
    }
}
