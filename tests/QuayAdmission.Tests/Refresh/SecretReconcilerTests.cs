using QuayAdmission.PullSecrets;
using QuayAdmission.Refresh;
using static QuayAdmission.Tests.Refresh.ReconcilerWorld;

namespace QuayAdmission.Tests.Refresh;

/// <summary>
/// The reconciler's rules as a table, without a host or a socket: the state of one Secret and its
/// users, then what a reconcile answers and what it did (calls to the fakes and events, in order;
/// logs by event id). One-hour tokens, RefreshFraction 0.5, GcAfter 1 h, UnusedGrace 15 min,
/// MinRemaining 10 min. A fresh token from a renewal is due again after half its life: 30 minutes.
/// </summary>
public sealed class SecretReconcilerTests
{
    private static readonly string Secret = $"{Namespace}/{Key.SecretName}";
    private static readonly PullSecretKey Excluded = new("excluded", "default", Registry, "acme+puller");

    /// <param name="Result">Done, After &lt;delay&gt; or Retry: &lt;reason&gt;.</param>
    /// <param name="Logs">Event ids of the reconciler's log lines, in order.</param>
    private sealed record Case(string Name, Action<ReconcilerWorld> Arrange, string Result, string[] Effects, int[] Logs, string? Id = null);

    private static readonly Case[] Table =
    [
        // Placeholders.
        new("a placeholder a Pod lists is filled",
            w => { w.Put(w.Placeholder(TimeSpan.FromMinutes(61))); w.PodUsing(); },
            "After 00:30:00", [$"renew {Secret}", $"Normal PlaceholderFilled on Secret {Secret}"], []),
        new("a young placeholder no Pod lists yet is filled",
            w => w.Put(w.Placeholder(TimeSpan.FromMinutes(5))),
            "After 00:30:00", [$"renew {Secret}", $"Normal PlaceholderFilled on Secret {Secret}"], []),
        new("an old placeholder no Pod lists is deleted once the namespace's Pods confirm it",
            w => w.Put(w.Placeholder(TimeSpan.FromMinutes(61))),
            "Done", [$"list pods {Namespace}", $"delete {Secret} at {ResourceVersion}"], [6005]),

        // Tokens: kept until the time their decision changes, renewed once due while wanted.
        new("a token a Pod lists is kept until its renewal is due",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(10))); w.PodUsing(); },
            "After 00:20:00", [], []),
        new("a token no Pod lists is kept until its renewal is due",
            w => w.Put(w.Token(TimeSpan.FromMinutes(10))),
            "After 00:20:00", [], []),
        new("a token past due that a Pod lists is renewed",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(31))); w.PodUsing(); },
            "After 00:30:00", [$"renew {Secret}"], []),
        new("a token past due that no Pod lists is kept until it may be collected",
            w => w.Put(w.Token(TimeSpan.FromMinutes(31))),
            "After 01:29:00", [], []),
        new("a token past due written within UnusedGrace is renewed before a Pod lists it",
            w => w.Put(w.Token(TimeSpan.FromMinutes(12), lifetime: TimeSpan.FromMinutes(20))),
            "After 00:30:00", [$"renew {Secret}"], []),
        new("an expired token a Pod lists is renewed",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(75))); w.PodUsing(); },
            "After 00:30:00", [$"renew {Secret}"], []),

        // Collection: only after GcAfter, and only once a fresh list of the namespace agrees.
        new("a token expired past GcAfter that no Pod lists is deleted once the namespace's Pods confirm it",
            w => w.Put(w.Token(TimeSpan.FromMinutes(121))),
            "Done", [$"list pods {Namespace}", $"delete {Secret} at {ResourceVersion}"], [6005]),
        new("a token expired past GcAfter is kept, and renewed, while an unlabelled Pod on a later page lists it",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(121))); w.NamespacePods.AddRange([[PodView("other", "unrelated")], [PodView("legacy", Key.SecretName)]]); },
            "After 00:30:00", [$"list pods {Namespace}", $"list pods {Namespace} from 1", $"renew {Secret}"], []),
        new("a finished Pod that lists it does not keep a Secret from collection",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(121))); w.NamespacePods.Add([PodView("job", Key.SecretName, phase: "Succeeded")]); },
            "Done", [$"list pods {Namespace}", $"delete {Secret} at {ResourceVersion}"], [6005]),
        new("a Secret that changed before its delete landed is left to the watch",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(121))); w.DeleteSucceeds = false; },
            "Done", [$"list pods {Namespace}", $"delete {Secret} at {ResourceVersion}"], []),

        // Missing Secrets, from the Pods' side.
        new("a missing Secret a Pod lists is re-created",
            w => w.PodUsing(),
            "After 00:30:00", [$"renew {Secret}", $"Normal SecretRecreated on Secret {Secret}"], [6010]),
        new("a missing Secret is re-created for the robot the Pod's ServiceAccount names",
            w => { w.PodUsing(robots: null); w.ServiceAccount("default", "acme+puller"); },
            "After 00:30:00", [$"renew {Secret}", $"Normal SecretRecreated on Secret {Secret}"], [6010]),
        new("a missing Secret no Pod lists is left alone",
            _ => { },
            "Done", [], []),
        new("a missing Secret whose Pod's references produce another name is left alone",
            w => w.PodUsing(robots: "acme+other"),
            "Done", [], []),

        // Boundaries.
        new("a Secret in an excluded namespace is left alone, due or not",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(31), key: Excluded)); w.PodUsing(ns: Excluded.Namespace); },
            "Done", [], [], Id: $"{Excluded.Namespace}/{Excluded.SecretName}"),
        new("a Secret whose annotations name no configured registry is left alone with a Warning",
            w => { var s = w.Placeholder(TimeSpan.FromMinutes(5)); s.Metadata.Annotations[WellKnown.RegistryAnnotation] = "quay.evil.example"; w.Put(s); w.PodUsing(); },
            "Done", [$"Warning InvalidManagedSecret on Secret {Secret}"], [6009]),

        // Failures: retried with the reason; the token's nearness to expiry is said at once.
        new("a failed renewal is retried with its reason",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(31))); w.PodUsing(); w.Renewal = () => new TokenStatus.Unavailable("Quay: 500 internal", Refused: false); },
            "Retry: Quay: 500 internal", [$"renew {Secret}"], []),
        new("a failed renewal of a token with less than MinRemaining left warns TokenExpiringSoon",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(55))); w.PodUsing(); w.Renewal = () => new TokenStatus.Unavailable("Quay: 500 internal", Refused: false); },
            "Retry: Quay: 500 internal", [$"renew {Secret}", $"Warning TokenExpiringSoon on Secret {Secret}"], []),
        new("a renewal that could only keep the old token is retried",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(31))); w.PodUsing(); w.Renewal = () => new TokenStatus.Ready(w.Now.AddMinutes(29), RenewalError: "writing the Secret: 500"); },
            "Retry: writing the Secret: 500", [$"renew {Secret}"], []),
        new("a renewal that brought no newer token is retried",
            w => { w.Put(w.Token(TimeSpan.FromMinutes(31))); w.PodUsing(); w.Renewal = () => new TokenStatus.Ready(w.Now.AddMinutes(29)); },
            "Retry: the token was not renewed", [$"renew {Secret}"], []),
        new("a failed fill is retried",
            w => { w.Put(w.Placeholder(TimeSpan.FromMinutes(5))); w.PodUsing(); w.Renewal = () => new TokenStatus.Unavailable("Quay: 401 unauthorized", Refused: true); },
            "Retry: Quay: 401 unauthorized", [$"renew {Secret}"], []),
    ];

    public static TheoryData<string> Cases => new(Table.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Reconciles(string name)
    {
        var row = Table.Single(c => c.Name == name);
        using var world = new ReconcilerWorld();
        row.Arrange(world);

        var result = await world.ReconcileAsync(row.Id);

        Assert.Equal(row.Result, Describe(result));
        Assert.Equal(row.Effects, world.Effects);
        Assert.Equal(row.Logs, world.Logger.Collector.GetSnapshot().Select(r => r.Id.Id));
    }

    [Fact]
    public async Task A_failing_renewal_raises_RenewalFailing_at_FailuresBeforeEvent_and_logs_every_count()
    {
        using var world = new ReconcilerWorld();
        world.Put(world.Token(TimeSpan.FromMinutes(31)));
        world.PodUsing();
        world.Renewal = () => new TokenStatus.Unavailable("Quay: 500 internal", Refused: false);

        // The controller tells a Retry how many times in a row the key has failed, as its queue counts them.
        for (var failures = 1; failures <= world.Options.FailuresBeforeEvent + 1; failures++)
        {
            var retry = Assert.IsType<ReconcileResult.Retry>(await world.ReconcileAsync());
            Assert.NotNull(retry.Failed);
            retry.Failed(failures);
        }

        Assert.Single(world.Effects, e => e == $"Warning RenewalFailing on Secret {Secret}");
        Assert.Equal(4, world.Effects.Count(e => e.StartsWith("renew ", StringComparison.Ordinal)));
        var logged = world.Logger.Collector.GetSnapshot();
        Assert.Equal([6006, 6006, 6006, 6006], logged.Select(r => r.Id.Id));
        Assert.Equal(["1", "2", "3", "4"], logged.Select(r => r.StructuredState!.Single(p => p.Key == "Failures").Value));
        Assert.All(logged, r => Assert.Contains("Quay: 500 internal", r.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_renewal_asks_for_a_token_lasting_past_the_one_seen_and_a_recreation_for_any()
    {
        using var world = new ReconcilerWorld();
        var seen = world.Token(TimeSpan.FromMinutes(31));
        world.Put(seen);
        world.PodUsing();
        await world.ReconcileAsync();

        // A later version that is no managed Secret: gone from the cache (an older one would not move it back).
        world.Secrets.Remember(new k8s.Models.V1Secret { Metadata = new() { Name = Key.SecretName, NamespaceProperty = Namespace, ResourceVersion = "99" } });
        await world.ReconcileAsync();

        Assert.Equal([PullSecretManifest.ExpiresAt(seen)!.Value.AddSeconds(1), DateTimeOffset.MinValue.AddSeconds(1)], world.RenewedUnlessPast);
    }

    [Fact]
    public async Task After_a_renewal_the_next_look_follows_the_token_the_cache_holds()
    {
        using var world = new ReconcilerWorld();
        world.Put(world.Token(TimeSpan.FromMinutes(31)));
        world.PodUsing();
        // Another writer's token, issued ten minutes ago: the provisioner found it and remembered it in the cache.
        var theirs = world.Token(TimeSpan.FromMinutes(10));
        theirs.Metadata.ResourceVersion = "8";
        world.Renewal = () =>
        {
            world.Put(theirs);
            return new TokenStatus.Ready(PullSecretManifest.ExpiresAt(theirs)!.Value);
        };

        Assert.Equal("After 00:20:00", Describe(await world.ReconcileAsync()));
    }

    [Fact]
    public async Task Renewals_and_deletions_are_counted_by_result()
    {
        using var world = new ReconcilerWorld();
        using var renewals = world.Collect("quay_admission.renewals");
        using var deletions = world.Collect("quay_admission.deletions");
        world.Put(world.Token(TimeSpan.FromMinutes(31)));
        world.PodUsing();
        await world.ReconcileAsync();
        world.Renewal = () => new TokenStatus.Unavailable("Quay: 500 internal", Refused: false);
        await world.ReconcileAsync();

        var old = world.Token(TimeSpan.FromMinutes(121), key: new PullSecretKey(Namespace, "default", Registry, "acme+old"));
        world.Put(old);
        await world.ReconcileAsync($"{Namespace}/{old.Metadata.Name}");
        world.DeleteSucceeds = false;
        await world.ReconcileAsync($"{Namespace}/{old.Metadata.Name}");

        Assert.Equal(["ok", "error"], renewals.GetMeasurementSnapshot().Select(m => (string?)m.Tags["result"]));
        Assert.Equal(["ok", "changed"], deletions.GetMeasurementSnapshot().Select(m => (string?)m.Tags["result"]));
    }

    private static string Describe(ReconcileResult result) => result switch
    {
        ReconcileResult.Done => "Done",
        ReconcileResult.After after => $"After {after.Delay}",
        ReconcileResult.Retry retry => $"Retry: {retry.Reason}",
        _ => result.ToString(),
    };
}
