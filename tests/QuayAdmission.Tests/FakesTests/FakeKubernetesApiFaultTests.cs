using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>The outages and counts the webhook's fault tests and benchmarks rely on.</summary>
public sealed class FakeKubernetesApiFaultTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private FakeKubernetesApi _api = null!;
    private k8s.Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeKubernetesApi.StartAsync(_time);
        _client = new k8s.Kubernetes(_api.ClientConfiguration());
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _api.DisposeAsync();
    }

    [Fact]
    public async Task Stop_refuses_connections_and_restart_serves_the_same_state_on_the_same_port()
    {
        _api.PutSecret(Secret("pull", "team-a"));
        var address = _api.BaseAddress;
        await using var watch = await WatchLines.OpenAsync(_api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=1");
        Assert.True(await Eventually.TrueAsync(() => _api.OpenWatchCount() == 1));

        await _api.StopAsync();

        Assert.False(_api.IsRunning);
        await Assert.ThrowsAnyAsync<IOException>(watch.NextAsync); // the open stream is cut, not ended
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(refused.InnerException).SocketErrorCode);
        _api.PutSecret(Secret("while-down", "team-a"));

        await _api.RestartAsync();

        Assert.Equal(address, _api.BaseAddress);
        var read = await _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a");
        Assert.Equal("1", read.Metadata.ResourceVersion);
        await using var resumed = await WatchLines.OpenAsync(_api, "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=1");
        Assert.Equal("ADDED while-down 2", (await resumed.NextChangeAsync()).ToString());
    }

    [Fact]
    public async Task ResetMidBody_sends_the_headers_and_half_the_body_then_aborts()
    {
        _api.PutSecret(Secret("pull", "team-a"));
        _api.SetFault("secrets.get", Fault.ResetMidBody with { Times = 2 });

        using var http = new HttpClient { BaseAddress = _api.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", FakeKubernetesApi.AdminToken);
        using var response = await http.GetAsync(new Uri("/api/v1/namespaces/team-a/secrets/pull", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var whole = response.Content.Headers.ContentLength!.Value;
        var body = await response.Content.ReadAsStreamAsync();
        var received = new byte[whole];
        var ended = await Assert.ThrowsAsync<HttpIOException>(() => body.ReadExactlyAsync(received).AsTask());
        Assert.Equal(HttpRequestError.ResponseEnded, ended.HttpRequestError);

        // KubernetesClient deserializes from the stream: the cut surfaces as HttpIOException, an IOException.
        var client = await Assert.ThrowsAsync<HttpIOException>(() => _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(HttpRequestError.ResponseEnded, client.HttpRequestError);

        var read = await _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"); // Times = 2: cleared
        Assert.Equal("pull", read.Metadata.Name);
        Assert.Equal(2 * (whole / 2) + whole, _api.ResponseBytes("secrets.get")); // what was sent, cut or not
        Assert.Equal(3, _api.Count("secrets.get"));
    }

    [Fact]
    public async Task Faults_apply_to_watches()
    {
        _api.SetFault("secrets.watch", Fault.Status(500) with { Times = 1 });
        await using (var failed = await WatchLines.OpenAsync(_api, "/api/v1/secrets?watch=true"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failed.Response.StatusCode);
        }

        _api.SetFault("secrets.watch", Fault.ResetMidBody with { Times = 1 });
        await using (var cut = await WatchLines.OpenAsync(_api, "/api/v1/secrets?watch=true"))
        {
            Assert.Equal(HttpStatusCode.OK, cut.Response.StatusCode);
            await Assert.ThrowsAnyAsync<IOException>(cut.NextAsync);
        }

        await using var working = await WatchLines.OpenAsync(_api, "/api/v1/secrets?watch=true");
        _api.PutSecret(Secret("a", "team-a"));
        Assert.Equal("ADDED a 1", (await working.NextChangeAsync()).ToString());
        Assert.Equal(3, _api.Count("secrets.watch"));
    }

    [Fact]
    public async Task Responses_are_counted_in_requests_and_body_bytes_per_operation()
    {
        _api.PutSecrets(Enumerable.Range(0, 20).Select(i => Secret($"s{i}", "team-a")));
        using var http = new HttpClient { BaseAddress = _api.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", FakeKubernetesApi.AdminToken);

        var list = await http.GetByteArrayAsync(new Uri("/api/v1/secrets?limit=5", UriKind.Relative));
        using var missing = await http.GetAsync(new Uri("/api/v1/namespaces/team-a/secrets/nope", UriKind.Relative));
        var missingBytes = (await missing.Content.ReadAsByteArrayAsync()).Length;

        Assert.Equal(list.Length, _api.ResponseBytes("secrets.list"));
        Assert.Equal(missingBytes, _api.ResponseBytes("secrets.get"));
        Assert.Equal(list.Length + missingBytes, _api.TotalResponseBytes);
        Assert.Equal((1, (long)list.Length), _api.Traffic["secrets.list"]);

        await using var watch = await WatchLines.OpenAsync(_api, "/api/v1/secrets?watch=true&resourceVersion=19");
        var line = await watch.NextChangeAsync();
        Assert.Equal(line.Raw.Length + 1, _api.ResponseBytes("secrets.watch")); // with its newline

        _api.ResetCounts();
        Assert.Equal(0, _api.TotalResponseBytes);
        Assert.Equal(0, _api.TotalCount);
        Assert.Empty(_api.Requests);
        _api.PutSecret(Secret("later", "team-a"));
        var later = await watch.NextChangeAsync();
        Assert.Equal(later.Raw.Length + 1, _api.ResponseBytes("secrets.watch")); // an open watch keeps counting after a reset
    }

    [Fact]
    public async Task Delete_preconditions_and_stale_lease_updates_are_Conflict()
    {
        var secret = await _client.CoreV1.CreateNamespacedSecretAsync(Secret("pull", "team-a"), "team-a");
        var lease = await _client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new() { Name = "leader" }, Spec = new V1LeaseSpec { HolderIdentity = "a" } }, "team-a");

        var wrongUid = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a",
            new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = "not-the-uid" } }));
        var wrongVersion = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a",
            new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = "99" } }));
        var status = await _client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a",
            new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = secret.Metadata.Uid, ResourceVersion = secret.Metadata.ResourceVersion } });

        Assert.Equal(HttpStatusCode.Conflict, wrongUid.Response.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, wrongVersion.Response.StatusCode);
        Assert.Equal("Success", status.Status);
        Assert.Null(_api.GetSecret("team-a", "pull"));

        lease.Spec.HolderIdentity = "b";
        await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "leader", "team-a");
        lease.Spec.HolderIdentity = "c";
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "leader", "team-a"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Equal("b", _api.GetLease("team-a", "leader")!.Spec.HolderIdentity);
    }

    [Fact]
    public async Task An_update_that_changes_nothing_writes_nothing()
    {
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Secret("pull", "team-a"), "team-a");
        await using var watch = await WatchLines.OpenAsync(_api, $"/api/v1/secrets?watch=true&resourceVersion={created.Metadata.ResourceVersion}");

        var same = await _client.CoreV1.ReplaceNamespacedSecretAsync(created, "pull", "team-a");
        created.Data = new Dictionary<string, byte[]> { ["k"] = "v"u8.ToArray() };
        var changed = await _client.CoreV1.ReplaceNamespacedSecretAsync(created, "pull", "team-a");

        Assert.Equal(created.Metadata.ResourceVersion, same.Metadata.ResourceVersion);
        Assert.Equal("MODIFIED pull 2", (await watch.NextChangeAsync()).ToString()); // the first replace sent no event
        Assert.Equal("2", changed.Metadata.ResourceVersion);
    }

    private static V1Secret Secret(string name, string ns) => new() { Metadata = new() { Name = name, NamespaceProperty = ns }, Type = "Opaque" };
}
