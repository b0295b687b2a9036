using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>The fake API must behave like the real one as seen through the real KubernetesClient.</summary>
public sealed class FakeKubernetesApiTests : IAsyncLifetime
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
    public async Task Secret_create_get_replace_delete()
    {
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Secret("pull", ("a", "1")), "team-a");
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.Equal(_time.GetUtcNow().UtcDateTime, created.Metadata.CreationTimestamp);

        var read = await _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a");
        Assert.Equal("1", Encoding.UTF8.GetString(read.Data["a"]));
        read.Data["a"] = "2"u8.ToArray();
        var replaced = await _client.CoreV1.ReplaceNamespacedSecretAsync(read, "pull", "team-a");

        Assert.Equal(created.Metadata.Uid, replaced.Metadata.Uid);
        Assert.NotEqual(created.Metadata.ResourceVersion, replaced.Metadata.ResourceVersion);
        Assert.Equal("2", Encoding.UTF8.GetString(_api.GetSecret("team-a", "pull")!.Data["a"]));

        await _client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a");
        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Response.StatusCode);
        Assert.Equal("NotFound", Reason(missing));
        Assert.Equal(["secrets.create", "secrets.get", "secrets.update", "secrets.delete", "secrets.get"], _api.Requests.Select(r => r.Operation));
    }

    [Fact]
    public async Task Create_of_existing_name_is_AlreadyExists_and_stale_replace_is_Conflict()
    {
        var first = await _client.CoreV1.CreateNamespacedSecretAsync(Secret("pull"), "team-a");

        var exists = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.CreateNamespacedSecretAsync(Secret("pull"), "team-a"));
        Assert.Equal(HttpStatusCode.Conflict, exists.Response.StatusCode);
        Assert.Equal("AlreadyExists", Reason(exists));

        var changed = await _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a");
        changed.Data = new Dictionary<string, byte[]> { ["a"] = "changed"u8.ToArray() };
        await _client.CoreV1.ReplaceNamespacedSecretAsync(changed, "pull", "team-a");
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ReplaceNamespacedSecretAsync(first, "pull", "team-a"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Equal("Conflict", Reason(stale));

        var nameless = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() }, "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, nameless.Response.StatusCode);
    }

    [Fact]
    public async Task List_filters_by_label_selector()
    {
        _api.PutSecret(Secret("a", labels: [("app.kubernetes.io/managed-by", "quay-admission"), ("tier", "x")], ns: "team-a"));
        _api.PutSecret(Secret("b", labels: [("app.kubernetes.io/managed-by", "quay-admission")], ns: "team-b"));
        _api.PutSecret(Secret("c", ns: "team-a"));

        var managed = await _client.CoreV1.ListSecretForAllNamespacesAsync(labelSelector: "app.kubernetes.io/managed-by=quay-admission");
        var managedInA = await _client.CoreV1.ListNamespacedSecretAsync("team-a", labelSelector: "app.kubernetes.io/managed-by=quay-admission,tier");
        var withoutTier = await _client.CoreV1.ListNamespacedSecretAsync("team-a", labelSelector: "!tier");

        Assert.Equal(["a", "b"], managed.Items.Select(s => s.Metadata.Name));
        Assert.Equal(["a"], managedInA.Items.Select(s => s.Metadata.Name));
        Assert.Equal(["c"], withoutTier.Items.Select(s => s.Metadata.Name));
        Assert.Equal("3", managed.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task TokenRequest_issues_an_RS256_jwt_that_verifies_with_the_published_jwks()
    {
        var request = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = ["quay.example.com"], ExpirationSeconds = 600 } };

        var response = await _client.CoreV1.CreateNamespacedServiceAccountTokenAsync(request, "builder", "team-a");

        var jwt = FakeJwt.Parse(response.Status.Token);
        Assert.Equal(_api.KeyId, jwt.KeyId);
        Assert.Equal(_api.Issuer, jwt.Issuer);
        Assert.Equal("system:serviceaccount:team-a:builder", jwt.Subject);
        Assert.Equal(["quay.example.com"], jwt.Audiences);
        Assert.Equal(_time.GetUtcNow().AddSeconds(600).ToUnixTimeSeconds(), jwt.ExpiresAt!.Value.ToUnixTimeSeconds());
        Assert.Equal(jwt.ExpiresAt.Value.UtcDateTime, response.Status.ExpirationTimestamp);
        Assert.Equal("builder", jwt.Payload["kubernetes.io"]!["serviceaccount"]!["name"]!.GetValue<string>());

        // The way Quay finds the key: issuer -> discovery -> jwks_uri.
        using var http = new HttpClient();
        var discovery = await http.GetFromJsonAsync<JsonObject>($"{jwt.Issuer}/.well-known/openid-configuration");
        var jwks = await http.GetFromJsonAsync<JsonObject>(discovery!["jwks_uri"]!.GetValue<string>());
        Assert.True(FakeJwt.VerifyRs256(jwt, jwks!["keys"]![0]!.AsObject()));

        var tooShort = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = ["q"], ExpirationSeconds = 599 } };
        var invalid = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.CreateNamespacedServiceAccountTokenAsync(tooShort, "builder", "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.Response.StatusCode);
    }

    [Fact]
    public async Task Faults_fail_the_call_and_are_counted()
    {
        _api.PutSecret(Secret("pull", ns: "team-a"));

        _api.SetFault("secrets.get", Fault.Status(500) with { Times = 1 });
        var failed = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(HttpStatusCode.InternalServerError, failed.Response.StatusCode);
        await _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"); // Times = 1: cleared

        _api.SetFault("secrets.get", Fault.Reset);
        await Assert.ThrowsAsync<HttpRequestException>(() => _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));

        _api.SetFault("secrets.get", Fault.Hang);
        using var giveUp = new CancellationTokenSource();
        var hanging = _client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a", cancellationToken: giveUp.Token);
        await _api.WaitForCountAsync("secrets.get", 4).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(hanging.IsCompleted);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);

        Assert.Equal(4, _api.Count("secrets.get"));
        Assert.Equal(4, _api.TotalCount);
    }

    [Fact]
    public async Task Leases_let_one_holder_win_and_reject_a_stale_update()
    {
        var now = _time.GetUtcNow().UtcDateTime;
        V1Lease Lease(string holder, DateTime renewed, string? resourceVersion = null) => new()
        {
            Metadata = new V1ObjectMeta { Name = "refresher", NamespaceProperty = "quay-admission", ResourceVersion = resourceVersion },
            Spec = new V1LeaseSpec { HolderIdentity = holder, AcquireTime = now, RenewTime = renewed, LeaseDurationSeconds = 15 },
        };

        var created = await _client.CoordinationV1.CreateNamespacedLeaseAsync(Lease("pod-1", now), "quay-admission");
        var lost = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoordinationV1.CreateNamespacedLeaseAsync(Lease("pod-2", now), "quay-admission"));
        Assert.Equal(HttpStatusCode.Conflict, lost.Response.StatusCode);
        Assert.Equal("pod-1", (await _client.CoordinationV1.ReadNamespacedLeaseAsync("refresher", "quay-admission")).Spec.HolderIdentity);

        await _client.CoordinationV1.ReplaceNamespacedLeaseAsync(Lease("pod-1", now.AddSeconds(5), created.Metadata.ResourceVersion), "refresher", "quay-admission");
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() =>
            _client.CoordinationV1.ReplaceNamespacedLeaseAsync(Lease("pod-2", now.AddSeconds(5), created.Metadata.ResourceVersion), "refresher", "quay-admission"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Equal("pod-1", _api.GetLease("quay-admission", "refresher")!.Spec.HolderIdentity);
    }

    [Fact]
    public async Task Concurrent_creates_each_get_their_own_resourceVersion()
    {
        var creates = Enumerable.Range(0, 200).Select(i => _client.CoreV1.CreateNamespacedSecretAsync(Secret($"s{i}"), "team-a"));

        var created = await Task.WhenAll(creates);

        Assert.Equal(200, created.Select(s => s.Metadata.ResourceVersion).Distinct().Count());
        Assert.Equal(200, _api.Secrets.Count);
        Assert.Equal(200, _api.Count("secrets.create"));
    }

    [Fact]
    public async Task Kubeconfig_points_a_client_at_the_fake()
    {
        var path = _api.WriteKubeconfig(Path.Combine(Path.GetTempPath(), $"fake-kubeconfig-{Guid.NewGuid():N}"));
        try
        {
            _api.AddNamespace(new V1Namespace { Metadata = new() { Name = "team-a", Labels = new Dictionary<string, string> { ["quay"] = "on" } } });
            using var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(path));

            var ns = await client.CoreV1.ReadNamespaceAsync("team-a");

            Assert.Equal("on", ns.Metadata.Labels["quay"]);
            Assert.Equal(1, _api.Count("namespaces.get"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static V1Secret Secret(string name, (string Key, string Value)? data = null, (string Key, string Value)[]? labels = null, string? ns = null) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = ns,
            Labels = labels?.ToDictionary(l => l.Key, l => l.Value),
        },
        Type = "Opaque",
        StringData = data is { } d ? new Dictionary<string, string> { [d.Key] = d.Value } : null,
    };

    private static string? Reason(HttpOperationException e) => JsonNode.Parse(e.Response.Content)?["reason"]?.GetValue<string>();
}
