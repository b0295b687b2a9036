using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;
using QuayAdmission.Tests.Fakes;
using static QuayAdmission.Tests.Kubernetes.SecretInformer;

namespace QuayAdmission.Tests.Kubernetes;

public sealed class InformerTests
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultClientTimeout = new k8s.KubernetesClientConfiguration().HttpClientTimeout;

    [Fact]
    public async Task Lists_then_watches_changes()
    {
        await using var secrets = await CreateAsync();
        secrets.Put("a", "1");
        secrets.Kube.PutSecret(Secret("unmanaged", managed: false));
        await secrets.StartAsync();
        Assert.Equal("1", secrets.ValueOf("a"));

        secrets.Put("b", "1");
        await secrets.UntilAsync(() => secrets.ValueOf("b") == "1", "saw b");
        Assert.Null(secrets.ValueOf("unmanaged"));
    }

    [Fact]
    public async Task The_first_list_is_read_in_pages_of_500()
    {
        await using var secrets = await CreateAsync();
        secrets.Kube.PutSecrets(Enumerable.Range(0, 1200).Select(i => Secret($"s{i:D4}")));
        await secrets.StartAsync();

        Assert.Equal(1200, secrets.Informer.Items.Count());
        var lists = secrets.Kube.Requests.Where(r => r.Operation == "secrets.list").ToList();
        Assert.Equal(3, lists.Count);
        Assert.All(lists, r => Assert.Equal("500", QueryHelpers.ParseQuery(r.Query)["limit"].ToString()));
        Assert.Equal(1200, secrets.Changes.Count);
        Assert.All(secrets.Changes, c => Assert.Null(c.Old));
        Assert.Equal(1200, secrets.Changes.Select(c => c.New!.Key).Distinct().Count());
    }

    [Fact]
    public async Task Watch_events_apply_in_order_with_their_old_and_new_items()
    {
        await using var secrets = await CreateAsync();
        secrets.Put("a", "1");
        await secrets.StartAsync();
        var listed = secrets.Changes.Count;

        secrets.Put("b", "1");
        secrets.Update("b", "2");
        secrets.Kube.DeleteSecret(Namespace, "a");
        await secrets.UntilAsync(() => secrets.Changes.Count == listed + 3, "saw three events");

        Assert.Equal(
            [Change(null, Expected("b", "1")), Change(Expected("b", "1"), Expected("b", "2")), Change(Expected("a", "1"), null)],
            secrets.Changes.Skip(listed));
        Assert.Null(secrets.Informer.Get(Namespace, "a"));
        Assert.Equal("2", secrets.ValueOf("b"));
    }

    [Fact]
    public async Task An_object_projected_to_null_leaves_the_cache()
    {
        await using var secrets = await CreateAsync();
        secrets.Put("a", "1");
        await secrets.StartAsync();

        secrets.Kube.UpdateSecret(Namespace, "a", s => s.Metadata.Labels[SkipLabel] = "true");
        await secrets.UntilAsync(() => secrets.Informer.Get(Namespace, "a") is null, "dropped a");
        Assert.Equal(Change(Expected("a", "1"), null), secrets.Changes[^1]);
        Assert.Empty(secrets.Informer.Items);
    }

    [Fact]
    public async Task A_remembered_write_is_visible_at_once_and_the_watch_has_the_last_word()
    {
        await using var secrets = await CreateAsync();
        await secrets.StartAsync();

        secrets.Informer.Remember(Secret("w", "written"));
        Assert.Equal("written", secrets.ValueOf("w"));
        Assert.Equal(Change(null, Expected("w", "written")), secrets.Changes[^1]);

        secrets.Put("w", "from the API");
        await secrets.UntilAsync(() => secrets.ValueOf("w") == "from the API", "took the API's version");
    }

    [Fact]
    public async Task A_remembered_write_older_than_what_the_watch_brought_is_not_kept()
    {
        await using var secrets = await CreateAsync();
        secrets.Put("w", "1");
        await secrets.StartAsync();
        var first = secrets.Kube.GetSecret(Namespace, "w")!;
        secrets.Update("w", "2");
        await secrets.UntilAsync(() => secrets.ValueOf("w") == "2", "saw the update");
        var changes = secrets.Changes.Count;

        // A writer that read version 1 and wrote it back late: the cache keeps the later version.
        first.Metadata.Annotations[ValueAnnotation] = "stale";
        secrets.Informer.Remember(first);
        Assert.Equal("2", secrets.ValueOf("w"));
        Assert.Equal(changes, secrets.Changes.Count);

        var later = secrets.Kube.GetSecret(Namespace, "w")!;
        later.Metadata.ResourceVersion = (long.Parse(later.Metadata.ResourceVersion, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture);
        later.Metadata.Annotations[ValueAnnotation] = "3";
        secrets.Informer.Remember(later);
        Assert.Equal("3", secrets.ValueOf("w"));
    }

    [Fact]
    public async Task A_watch_the_server_ends_at_once_is_reopened_after_a_growing_backoff_not_in_a_loop()
    {
        await using var secrets = await CreateAsync();
        secrets.Kube.SetFault("secrets.watch", Fault.EndAtOnce);
        secrets.Run();

        // Each empty watch shorter than a second waits 80-100 % of 800 ms, 1.6 s, 3.2 s, ... before the next.
        for (var watches = 1; watches <= 4; watches++)
        {
            await secrets.UntilAsync(() => secrets.Kube.Count("secrets.watch") == watches && secrets.Clock.Waiting(d => d > TimeSpan.Zero) >= 1, $"{watches} watches, then a wait");
            var wait = TimeSpan.FromMilliseconds(800) * Math.Pow(2, watches - 1);
            Assert.Equal(1, secrets.Clock.Waiting(d => d >= wait * 0.8 && d <= wait));
            Assert.Equal(watches, secrets.Kube.Count("secrets.watch"));
            secrets.Clock.Advance(wait);
        }
        Assert.Equal(1, secrets.Kube.Count("secrets.list"));
        Assert.False(secrets.Progress.IsFailing);
        Assert.True(secrets.Informer.HasSynced);
    }

    public static TheoryData<int> ResourceVersionGone => [410, 504];

    [Theory]
    [MemberData(nameof(ResourceVersionGone))]
    public async Task A_watch_that_cannot_resume_relists_after_a_growing_backoff_not_in_a_loop(int code)
    {
        await using var secrets = await CreateAsync();
        secrets.Put("a", "1");
        secrets.Kube.SetFault("secrets.watch", Fault.Status(code));
        secrets.Run();

        for (var lists = 1; lists <= 3; lists++)
        {
            await secrets.UntilAsync(() => secrets.Kube.Count("secrets.list") == lists && secrets.Kube.Count("secrets.watch") == lists
                && secrets.Clock.Waiting(d => d > TimeSpan.Zero) >= 1, $"{lists} lists and watches, then a wait");
            var wait = TimeSpan.FromMilliseconds(800) * Math.Pow(2, lists - 1);
            Assert.Equal(1, secrets.Clock.Waiting(d => d >= wait * 0.8 && d <= wait));
            secrets.Clock.Advance(wait);
        }

        // Once the watch works again, the backoff is forgotten: the next relist (410) waits the first step only.
        secrets.Kube.ClearFaults();
        await secrets.WatchingAsync();
        secrets.Put("b", "1");
        await secrets.UntilAsync(() => secrets.ValueOf("b") == "1", "saw b");
        Assert.Equal("1", secrets.ValueOf("a"));
        Assert.False(secrets.Progress.IsFailing);
    }

    [Fact]
    public async Task Bookmarks_let_a_reconnect_resume_without_a_relist()
    {
        await using var secrets = await CreateAsync();
        secrets.Kube.BookmarkInterval = TimeSpan.FromMilliseconds(20);
        await secrets.StartAsync();
        var listedAt = long.Parse(secrets.Kube.CurrentResourceVersion, CultureInfo.InvariantCulture);

        // Writes the informer does not select move the resourceVersion; only bookmarks tell it so.
        for (var i = 0; i < 5; i++)
            secrets.Kube.PutSecret(Secret($"other-{i}", managed: false));
        var successes = secrets.Progress.Successes;
        await secrets.UntilAsync(() => secrets.Progress.Successes >= successes + 3, "received bookmarks");

        // History before now is gone: resuming from the list's resourceVersion would be 410 and a relist.
        secrets.Kube.Compact();
        secrets.EndWatches();
        await secrets.UntilAsync(() => secrets.Kube.Count("secrets.watch") == 2 && secrets.Kube.OpenWatchCount("secrets.watch") == 1, "watching again");
        secrets.Put("b", "1");
        await secrets.UntilAsync(() => secrets.ValueOf("b") == "1", "saw b");

        Assert.Equal(1, secrets.Kube.Count("secrets.list"));
        var resumedFrom = secrets.Kube.Requests.Where(r => r.Operation == "secrets.watch").Select(r => ResourceVersionOf(r.Query)).Last();
        Assert.True(resumedFrom > listedAt, $"resumed from {resumedFrom}, the list was at {listedAt}");
    }

    [Fact]
    public async Task Gone_after_an_outage_relists_once_and_drops_what_was_deleted_meanwhile()
    {
        await using var secrets = await CreateAsync();
        secrets.Put("a", "1");
        secrets.Put("b", "1");
        await secrets.StartAsync();

        await secrets.Kube.StopAsync();
        await secrets.BackingOffAsync();
        secrets.Kube.DeleteSecret(Namespace, "a");
        secrets.Update("b", "2");
        secrets.Put("c", "1");
        secrets.Kube.Compact();
        await secrets.Kube.RestartAsync();
        secrets.Clock.Advance(Backoff.BackoffBase);
        // The watch from the old resourceVersion is 410: a relist, after the reflector's backoff.
        await secrets.ReflectorBackoffAsync();

        await secrets.WatchingAsync();
        await secrets.UntilAsync(() => secrets.ValueOf("c") == "1", "caught up");
        Assert.Null(secrets.Informer.Get(Namespace, "a"));
        Assert.Equal("2", secrets.ValueOf("b"));
        Assert.Contains(Change(Expected("a", "1"), null), secrets.Changes);
        Assert.Equal(2, secrets.Kube.Count("secrets.list"));
    }

    [Fact]
    public async Task An_expired_continue_token_starts_the_list_over()
    {
        var compacted = 0;
        FakeKubernetesApi? kube = null;
        await using var secrets = await CreateAsync(source: s => s with
        {
            List = (client, next, limit, ct) =>
            {
                if (next is not null && Interlocked.Exchange(ref compacted, 1) == 0)
                {
                    // Between the first and the second page, history moves on and is compacted away.
                    kube!.PutSecret(Secret("other", managed: false));
                    kube.Compact();
                }
                return s.List(client, next, limit, ct);
            },
        });
        kube = secrets.Kube;
        secrets.Kube.PutSecrets(Enumerable.Range(0, 1200).Select(i => Secret($"s{i:D4}")));
        await secrets.StartAsync();

        Assert.Equal(1200, secrets.Informer.Items.Count());
        Assert.Equal(2 + 3, secrets.Kube.Count("secrets.list"));
        Assert.Equal(1200, secrets.Changes.Count);
    }

    public static TheoryData<string> WatchOutages => ["reset mid-body", "500", "429", "API stopped"];

    [Theory]
    [MemberData(nameof(WatchOutages))]
    public async Task A_watch_outage_keeps_the_last_state_and_catches_up_within_one_backoff(string outage)
    {
        await using var secrets = await CreateAsync();
        secrets.Put("a", "1");
        await secrets.StartAsync();

        if (outage == "API stopped")
        {
            await secrets.Kube.StopAsync();
        }
        else
        {
            secrets.Kube.SetFault("secrets.watch", outage == "reset mid-body" ? Fault.ResetMidBody : Fault.Status(int.Parse(outage, CultureInfo.InvariantCulture)));
            secrets.EndWatches();
        }
        await secrets.BackingOffAsync();
        secrets.Update("a", "2");
        secrets.Put("b", "1");
        Assert.True(secrets.Informer.HasSynced);
        Assert.Equal("1", secrets.ValueOf("a"));
        Assert.Null(secrets.ValueOf("b"));

        secrets.Kube.ClearFaults();
        if (!secrets.Kube.IsRunning)
            await secrets.Kube.RestartAsync();
        secrets.Clock.Advance(Backoff.BackoffBase);

        await secrets.UntilAsync(() => secrets.ValueOf("a") == "2" && secrets.ValueOf("b") == "1", "caught up");
        Assert.Equal(1, secrets.Kube.Count("secrets.list"));
    }

    public static TheoryData<string> ListFaults => ["500", "reset mid-body"];

    [Theory]
    [MemberData(nameof(ListFaults))]
    public async Task A_failed_first_list_is_tried_again_after_the_backoff(string fault)
    {
        await using var secrets = await CreateAsync();
        secrets.Put("a", "1");
        secrets.Kube.SetFault("secrets.list", (fault == "500" ? Fault.Status(500) : Fault.ResetMidBody) with { Times = 1 });
        secrets.Run();

        await secrets.BackingOffAsync();
        Assert.False(secrets.Informer.HasSynced);
        secrets.Clock.Advance(Backoff.BackoffBase);

        await secrets.WatchingAsync();
        Assert.Equal("1", secrets.ValueOf("a"));
    }

    [Fact]
    public async Task A_watch_open_longer_than_the_client_timeout_keeps_delivering()
    {
        await using var secrets = await CreateAsync();
        secrets.Kube.BookmarkInterval = TimeSpan.FromMilliseconds(250);
        await secrets.StartAsync();
        // Only for the watch under test: under a loaded test run, 1 s could also cut the list that sets the scene.
        secrets.ClientTimeout = ClientTimeout;
        secrets.EndWatches();
        await secrets.UntilAsync(() => secrets.Kube.Count("secrets.watch") == 2 && secrets.Kube.OpenWatchCount("secrets.watch") == 1, "watching again");

        // The stand-in sends a bookmark every 250 ms of real time: six of them span more than the client timeout.
        var successes = secrets.Progress.Successes;
        await secrets.UntilAsync(() => secrets.Progress.Successes >= successes + 6, "received six bookmarks");
        secrets.Put("b", "1");

        await secrets.UntilAsync(() => secrets.ValueOf("b") == "1", "saw b");
        Assert.Equal(2, secrets.Kube.Count("secrets.watch"));
        Assert.False(secrets.Progress.IsFailing);
    }

    [Fact]
    public async Task A_watch_whose_answer_never_comes_is_given_up_at_the_client_timeout()
    {
        await using var secrets = await CreateAsync();
        await secrets.StartAsync();
        secrets.ClientTimeout = ClientTimeout;
        secrets.Kube.SetFault("secrets.watch", Fault.Hang with { Times = 1 });
        secrets.EndWatches();

        await secrets.BackingOffAsync();
        secrets.Put("b", "1");
        secrets.ClientTimeout = DefaultClientTimeout;
        secrets.Clock.Advance(Backoff.BackoffBase);

        await secrets.UntilAsync(() => secrets.ValueOf("b") == "1", "saw b");
    }

    private static long ResourceVersionOf(string query) =>
        long.Parse(QueryHelpers.ParseQuery(query)["resourceVersion"].ToString(), CultureInfo.InvariantCulture);
}
