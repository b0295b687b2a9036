using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Autorest;
using k8s.Models;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>The outages and counts the webhook's fault tests and benchmarks rely on.</summary>
public sealed class FakeKubernetesApiFaultTests : FakeKubernetesApiFixture
{
    [Fact]
    public async Task Stop_refuses_connections_and_restart_serves_the_same_state_on_the_same_port()
    {
        Api.PutSecret(Secret("pull", "team-a"));
        var address = Api.BaseAddress;
        await using var watch = await WatchLines.OpenAsync(Api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=2");
        Assert.True(await Eventually.TrueAsync(() => Api.OpenWatchCount() == 1));

        await Api.StopAsync();

        Assert.False(Api.IsRunning);
        await Assert.ThrowsAnyAsync<IOException>(watch.NextAsync); // the open stream is cut, not ended
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(refused.InnerException).SocketErrorCode);
        Api.PutSecret(Secret("while-down", "team-a"));

        await Api.RestartAsync();

        Assert.Equal(address, Api.BaseAddress);
        var read = await Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a");
        Assert.Equal("2", read.Metadata.ResourceVersion);
        await using var resumed = await WatchLines.OpenAsync(Api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=2");
        Assert.Equal("ADDED while-down 3", (await resumed.NextChangeAsync()).ToString());
    }

    [Fact]
    public async Task ResetMidBody_sends_the_headers_and_half_the_body_then_aborts()
    {
        Api.PutSecret(Secret("pull", "team-a"));
        Api.SetFault("secrets.get", Fault.ResetMidBody with { Times = 2 });

        using var http = new HttpClient { BaseAddress = Api.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", FakeKubernetesApi.AdminToken);
        using var response = await http.GetAsync(new Uri("/api/v1/namespaces/team-a/secrets/pull", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var whole = response.Content.Headers.ContentLength!.Value;
        var body = await response.Content.ReadAsStreamAsync();
        var received = new byte[whole];
        var ended = await Assert.ThrowsAsync<HttpIOException>(() => body.ReadExactlyAsync(received).AsTask());
        Assert.Equal(HttpRequestError.ResponseEnded, ended.HttpRequestError);

        // KubernetesClient deserializes from the stream: the cut surfaces as HttpIOException, an IOException.
        var client = await Assert.ThrowsAsync<HttpIOException>(() => Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(HttpRequestError.ResponseEnded, client.HttpRequestError);

        var read = await Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"); // Times = 2: cleared
        Assert.Equal("pull", read.Metadata.Name);
        Assert.Equal(2 * (whole / 2) + whole, Api.ResponseBytes("secrets.get")); // what was sent, cut or not
        Assert.Equal(3, Api.Count("secrets.get"));
    }

    [Fact]
    public async Task Faults_apply_to_watches()
    {
        Api.SetFault("secrets.watch", Fault.Status(500) with { Times = 1 });
        await using (var failed = await WatchLines.OpenAsync(Api, "/api/v1/secrets?watch=true"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failed.Response.StatusCode);
        }

        Api.SetFault("secrets.watch", Fault.ResetMidBody with { Times = 1 });
        await using (var cut = await WatchLines.OpenAsync(Api, "/api/v1/secrets?watch=true"))
        {
            Assert.Equal(HttpStatusCode.OK, cut.Response.StatusCode);
            await Assert.ThrowsAnyAsync<IOException>(cut.NextAsync);
        }

        await using var working = await WatchLines.OpenAsync(Api, "/api/v1/secrets?watch=true");
        Api.PutSecret(Secret("a", "team-a"));
        Assert.Equal("ADDED a 2", (await working.NextChangeAsync()).ToString());
        Assert.Equal(3, Api.Count("secrets.watch"));
    }

    [Fact]
    public async Task Responses_are_counted_in_requests_and_body_bytes_per_operation()
    {
        Api.PutSecrets(Enumerable.Range(0, 20).Select(i => Secret($"s{i}", "team-a")));
        using var http = new HttpClient { BaseAddress = Api.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", FakeKubernetesApi.AdminToken);

        var list = await http.GetByteArrayAsync(new Uri("/api/v1/secrets?limit=5", UriKind.Relative));
        using var missing = await http.GetAsync(new Uri("/api/v1/namespaces/team-a/secrets/nope", UriKind.Relative));
        var missingBytes = (await missing.Content.ReadAsByteArrayAsync()).Length;

        Assert.Equal(list.Length, Api.ResponseBytes("secrets.list"));
        Assert.Equal(missingBytes, Api.ResponseBytes("secrets.get"));
        Assert.Equal((1, (long)list.Length), Api.Traffic["secrets.list"]);

        await using var watch = await WatchLines.OpenAsync(Api, "/api/v1/secrets?watch=true&resourceVersion=20");
        var line = await watch.NextChangeAsync();
        Assert.Equal(line.Raw.Length + 1, Api.ResponseBytes("secrets.watch")); // with its newline

        Api.ResetCounts();
        Assert.Empty(Api.Traffic);
        Assert.Equal(0, Api.TotalCount);
        Assert.Empty(Api.Requests);
        Api.PutSecret(Secret("later", "team-a"));
        var later = await watch.NextChangeAsync();
        Assert.Equal(later.Raw.Length + 1, Api.ResponseBytes("secrets.watch")); // an open watch keeps counting after a reset
    }

    [Fact]
    public async Task Delete_preconditions_and_stale_lease_updates_are_Conflict()
    {
        var secret = await Client.CoreV1.CreateNamespacedSecretAsync(Secret("pull", "team-a"), "team-a");
        var lease = await Client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new() { Name = "leader" }, Spec = new V1LeaseSpec { HolderIdentity = "a" } }, "team-a");

        var wrongUid = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a",
            new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = "not-the-uid" } }));
        var wrongVersion = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a",
            new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = "99" } }));
        var status = await Client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a",
            new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = secret.Metadata.Uid, ResourceVersion = secret.Metadata.ResourceVersion } });

        Assert.Equal(HttpStatusCode.Conflict, wrongUid.Response.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, wrongVersion.Response.StatusCode);
        Assert.Equal("Success", status.Status);
        Assert.Null(Api.GetSecret("team-a", "pull"));

        lease.Spec.HolderIdentity = "b";
        await Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "leader", "team-a");
        lease.Spec.HolderIdentity = "c";
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "leader", "team-a"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Equal("b", Api.GetLease("team-a", "leader")!.Spec.HolderIdentity);
    }

    [Fact]
    public async Task A_patch_that_changes_nothing_writes_nothing()
    {
        var created = await Client.CoreV1.CreateNamespacedSecretAsync(Secret("pull", "team-a"), "team-a");
        await using var watch = await WatchLines.OpenAsync(Api, $"/api/v1/secrets?watch=true&resourceVersion={created.Metadata.ResourceVersion}");

        var same = await Client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"type":"Opaque"}""", V1Patch.PatchType.MergePatch), "pull", "team-a");
        var changed = await Client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"data":{"k":"dg=="}}""", V1Patch.PatchType.MergePatch), "pull", "team-a");

        Assert.Equal(created.Metadata.ResourceVersion, same.Metadata.ResourceVersion);
        Assert.Equal("MODIFIED pull 3", (await watch.NextChangeAsync()).ToString()); // the first patch sent no event
        Assert.Equal("3", changed.Metadata.ResourceVersion);
    }

}
