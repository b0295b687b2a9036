using System.Net;
using k8s;
using k8s.Models;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>Watches as the API documents them ("Efficient detection of changes", "Watch bookmarks"), read off the wire.</summary>
public sealed class FakeKubernetesApiWatchTests : FakeKubernetesApiFixture
{
    private const string Injected = "quay-admission.io/injected";

    [Fact]
    public async Task A_watch_from_a_list_sees_every_later_change_in_order()
    {
        Api.PutSecret(Secret("a", "team-a"));
        var list = await Client.CoreV1.ListNamespacedSecretAsync("team-a");
        await using var watch = await WatchLines.OpenAsync(Api, $"/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion={list.Metadata.ResourceVersion}");

        await Client.CoreV1.CreateNamespacedSecretAsync(Secret("b", "team-a"), "team-a");
        Api.PutSecret(Secret("other", "team-b"));
        Api.UpdateSecret("team-a", "a", s => s.Data = new Dictionary<string, byte[]> { ["k"] = "v"u8.ToArray() });
        await Client.CoreV1.DeleteNamespacedSecretAsync("b", "team-a");

        var events = await watch.NextChangesAsync(3);
        Assert.Equal(["ADDED b 3", "MODIFIED a 5", "DELETED b 6"], events.Select(e => e.ToString()));
        Assert.All(events, e => Assert.Equal(("Secret", "v1"), (e.Object["kind"]!.GetValue<string>(), e.Object["apiVersion"]!.GetValue<string>())));
        Assert.Equal(HttpStatusCode.OK, watch.Response.StatusCode);
        Assert.True(watch.Response.Headers.TransferEncodingChunked);
        Assert.Equal(1, Api.Count("secrets.watch"));
    }

    [Fact]
    public async Task A_watch_without_resourceVersion_starts_with_the_current_state()
    {
        Api.PutSecrets([Secret("a", "team-a"), Secret("b", "team-a")]);
        await using var watch = await WatchLines.OpenAsync(Api, "/api/v1/secrets?watch=1");

        var initial = await watch.NextChangesAsync(2);
        Api.DeleteSecret("team-a", "a");

        Assert.Equal(["ADDED a 2", "ADDED b 3"], initial.Select(e => e.ToString()));
        Assert.Equal("DELETED a 4", (await watch.NextChangeAsync()).ToString());
    }

    [Fact]
    public async Task A_watch_replays_the_retained_history_after_its_resourceVersion()
    {
        Api.PutSecret(Secret("a", "team-a"));
        Api.PutSecret(Secret("b", "team-a"));
        Api.DeleteSecret("team-a", "a");

        await using var watch = await WatchLines.OpenAsync(Api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=2");

        Assert.Equal(["ADDED b 3", "DELETED a 4"], (await watch.NextChangesAsync(2)).Select(e => e.ToString()));
    }

    [Fact]
    public async Task A_label_selector_turns_objects_leaving_the_selection_into_DELETED_and_entering_into_ADDED()
    {
        Api.PutPod(Pod("web", "team-a", injected: false));
        await using var watch = await WatchLines.OpenAsync(Api,
            $"/api/v1/pods?watch=true&resourceVersion={Api.CurrentResourceVersion}&labelSelector={Injected}%3Dtrue");

        Api.UpdatePod("team-a", "web", p => p.Metadata.Labels = new Dictionary<string, string> { [Injected] = "true" });
        Api.UpdatePod("team-a", "web", p => p.Spec.NodeName = "node-1");
        Api.UpdatePod("team-a", "web", p => p.Metadata.Labels = null);
        Api.PutPod(Pod("ignored", "team-a", injected: false));
        Api.DeletePod("team-a", "web");
        Api.PutPod(Pod("job", "team-b", injected: true));

        var events = await watch.NextChangesAsync(4);
        Assert.Equal(["ADDED web 3", "MODIFIED web 4", "DELETED web 5", "ADDED job 8"], events.Select(e => e.ToString()));

        // The DELETED of an object leaving the selection carries its last matching content at the new resourceVersion.
        Assert.Equal("true", events[2].Object["metadata"]!["labels"]![Injected]!.GetValue<string>());
        Assert.Equal("5", events[2].ResourceVersion);
    }

    [Fact]
    public async Task Bookmarks_carry_only_kind_apiVersion_and_the_current_resourceVersion()
    {
        Api.BookmarkInterval = TimeSpan.FromMilliseconds(50);
        Api.PutPod(Pod("web", "team-a", injected: true));
        Api.PutSecret(Secret("unrelated", "team-a"));
        await using var watch = await WatchLines.OpenAsync(Api, "/api/v1/namespaces/team-a/pods?watch=true&resourceVersion=2&allowWatchBookmarks=true");

        var bookmark = await watch.NextEventAsync();

        Assert.Equal("BOOKMARK", bookmark.Type);
        Assert.Equal("3", bookmark.ResourceVersion); // the global resourceVersion, moved on by a Secret
        Assert.Equal("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"3\",\"creationTimestamp\":null},\"spec\":{\"containers\":null},\"status\":{}}", bookmark.Object.ToJsonString());

        Api.DeletePod("team-a", "web");
        Assert.Equal("DELETED web 4", (await watch.NextChangeAsync()).ToString());
    }

    [Fact]
    public async Task No_bookmarks_unless_asked()
    {
        Api.BookmarkInterval = TimeSpan.FromMilliseconds(20);
        await using var without = await WatchLines.OpenAsync(Api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=0");
        await using var with = await WatchLines.OpenAsync(Api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=0&allowWatchBookmarks=true");

        // A bookmark on the other watch shows an interval has passed: one on this watch would now come first.
        Assert.Equal("BOOKMARK", (await with.NextEventAsync()).Type);
        Api.PutSecret(Secret("a", "team-a"));

        Assert.Equal("ADDED", (await without.NextEventAsync()).Type);
    }

    [Fact]
    public async Task A_resourceVersion_older_than_the_history_gets_one_ERROR_410_Expired_then_the_end()
    {
        Api.PutSecret(Secret("a", "team-a"));
        Api.UpdateSecret("team-a", "a", s => s.Type = "Opaque");
        Api.Compact();

        await using (var watch = await WatchLines.OpenAsync(Api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=2"))
        {
            Assert.Equal(HttpStatusCode.OK, watch.Response.StatusCode);
            var error = await watch.NextEventAsync();
            Assert.Equal("ERROR", error.Type);
            Assert.Equal(("Status", 410, "Expired"), (error.Object["kind"]!.GetValue<string>(), error.Object["code"]!.GetValue<int>(), error.Object["reason"]!.GetValue<string>()));
            Assert.Equal("too old resource version: 2 (3)", error.Object["message"]!.GetValue<string>());
            Assert.Null(await watch.NextAsync());
        }

        await using var current = await WatchLines.OpenAsync(Api, $"/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion={Api.CurrentResourceVersion}");
        Api.DeleteSecret("team-a", "a");
        Assert.Equal("DELETED a 4", (await current.NextChangeAsync()).ToString());
    }

    [Fact]
    public async Task TimeoutSeconds_ends_the_stream_cleanly()
    {
        await using var watch = await WatchLines.OpenAsync(Api, "/api/v1/secrets?watch=true&timeoutSeconds=1");

        Assert.Null(await watch.NextAsync());
        Assert.True(await Eventually.TrueAsync(() => Api.OpenWatchCount() == 0));
    }

    [Fact]
    public async Task CloseWatches_ends_open_streams_and_the_client_can_resume_from_its_last_resourceVersion()
    {
        await using var first = await WatchLines.OpenAsync(Api, "/api/v1/secrets?watch=true&resourceVersion=0");
        Api.PutSecret(Secret("a", "team-a"));
        var added = await first.NextChangeAsync();

        Api.CloseWatches();
        Assert.Null(await first.NextAsync());
        Api.PutSecret(Secret("b", "team-b"));

        await using var resumed = await WatchLines.OpenAsync(Api, $"/api/v1/secrets?watch=true&resourceVersion={added.ResourceVersion}");
        Assert.Equal("ADDED b 3", (await resumed.NextChangeAsync()).ToString());
        Assert.Equal("Secret", added.Object["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_webhooks_watch_client_reads_the_stream()
    {
        // KubernetesClient.Aot has no watcher of its own: the webhook reads watches with WatchClient.
        var seen = new List<(string, string)>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var reading = Task.Run(() => new QuayAdmission.Kubernetes.Watching.WatchClient(new QuayAdmission.Kubernetes.KubernetesApi(Api.ClientConfiguration())).ReadAsync(
            "api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=0",
            line =>
            {
                lock (seen)
                {
                    seen.Add((line.Type, line.Object.GetProperty("metadata").GetProperty("name").GetString()!));
                    if (seen.Count == 2)
                        stop.Cancel();
                }
            },
            stop.Token));
        Assert.True(await Eventually.TrueAsync(() => Api.OpenWatchCount("secrets.watch") == 1));

        Api.PutSecret(Secret("a", "team-a"));
        Api.DeleteSecret("team-a", "a");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal([("ADDED", "a"), ("DELETED", "a")], seen);
    }

}
