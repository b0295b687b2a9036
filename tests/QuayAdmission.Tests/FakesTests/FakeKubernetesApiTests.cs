using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>The fake API must behave like the real one as seen through the real KubernetesClient.</summary>
public sealed class FakeKubernetesApiTests : FakeKubernetesApiFixture
{
    [Fact]
    public async Task Secret_create_get_patch_delete()
    {
        var created = await Client.CoreV1.CreateNamespacedSecretAsync(Secret("pull", ("a", "1")), "team-a");
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.Equal(Time.GetUtcNow().UtcDateTime, created.Metadata.CreationTimestamp);

        var read = await Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a");
        Assert.Equal("1", Encoding.UTF8.GetString(read.Data["a"]));
        var patched = await Client.CoreV1.PatchNamespacedSecretAsync(MergePatch("""{"stringData":{"a":"2"}}"""), "pull", "team-a");

        Assert.Equal(created.Metadata.Uid, patched.Metadata.Uid);
        Assert.NotEqual(created.Metadata.ResourceVersion, patched.Metadata.ResourceVersion);
        Assert.Equal("2", Encoding.UTF8.GetString(Api.GetSecret("team-a", "pull")!.Data["a"]));

        await Client.CoreV1.DeleteNamespacedSecretAsync("pull", "team-a");
        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Response.StatusCode);
        Assert.Equal("NotFound", Reason(missing));
        Assert.Equal(["secrets.create", "secrets.get", "secrets.patch", "secrets.delete", "secrets.get"], Api.Requests.Select(r => r.Operation));
    }

    [Fact]
    public async Task Create_of_existing_name_is_AlreadyExists_and_a_patch_of_a_stale_resourceVersion_is_Conflict()
    {
        var first = await Client.CoreV1.CreateNamespacedSecretAsync(Secret("pull"), "team-a");

        var exists = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.CreateNamespacedSecretAsync(Secret("pull"), "team-a"));
        Assert.Equal(HttpStatusCode.Conflict, exists.Response.StatusCode);
        Assert.Equal("AlreadyExists", Reason(exists));

        await Client.CoreV1.PatchNamespacedSecretAsync(MergePatch("""{"stringData":{"a":"changed"}}"""), "pull", "team-a");
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.PatchNamespacedSecretAsync(
            MergePatch($$$"""{"metadata":{"resourceVersion":"{{{first.Metadata.ResourceVersion}}}"},"stringData":{"a":"lost"}}"""), "pull", "team-a"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Equal("Conflict", Reason(stale));
        Assert.Equal("changed", Encoding.UTF8.GetString(Api.GetSecret("team-a", "pull")!.Data["a"]));

        var nameless = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new() }, "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, nameless.Response.StatusCode);
    }

    [Fact]
    public async Task List_filters_by_label_selector()
    {
        Api.PutSecret(Secret("a", labels: [("app.kubernetes.io/managed-by", "quay-admission"), ("tier", "x")], ns: "team-a"));
        Api.PutSecret(Secret("b", labels: [("app.kubernetes.io/managed-by", "quay-admission")], ns: "team-b"));
        Api.PutSecret(Secret("c", ns: "team-a"));

        var managed = await Client.CoreV1.ListSecretForAllNamespacesAsync(labelSelector: "app.kubernetes.io/managed-by=quay-admission");
        var managedInA = await Client.CoreV1.ListNamespacedSecretAsync("team-a", labelSelector: "app.kubernetes.io/managed-by==quay-admission,tier=x");

        Assert.Equal(["a", "b"], managed.Items.Select(s => s.Metadata.Name));
        Assert.Equal(["a"], managedInA.Items.Select(s => s.Metadata.Name));
        Assert.Equal("4", managed.Metadata.ResourceVersion); // the store started at 1, as etcd never reports 0
    }

    [Fact]
    public async Task TokenRequest_issues_an_RS256_jwt_that_verifies_with_the_published_jwks()
    {
        var request = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = ["quay.example.com"], ExpirationSeconds = 600 } };

        var response = await Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(request, "builder", "team-a");

        var jwt = FakeJwt.Parse(response.Status.Token);
        Assert.Equal(Api.Issuer, jwt.Issuer);
        Assert.Equal("system:serviceaccount:team-a:builder", jwt.Subject);
        Assert.Equal(["quay.example.com"], jwt.Audiences);
        Assert.Equal(Time.GetUtcNow().AddSeconds(600).ToUnixTimeSeconds(), jwt.ExpiresAt!.Value.ToUnixTimeSeconds());
        Assert.Equal(jwt.ExpiresAt.Value.UtcDateTime, response.Status.ExpirationTimestamp);
        Assert.Equal("builder", jwt.Payload["kubernetes.io"]!["serviceaccount"]!["name"]!.GetValue<string>());

        // The way Quay finds the key: issuer -> discovery -> jwks_uri.
        using var http = new HttpClient();
        var discovery = JsonNode.Parse(await http.GetStringAsync(new Uri($"{jwt.Issuer}/.well-known/openid-configuration")));
        var jwks = JsonNode.Parse(await http.GetStringAsync(new Uri(discovery!["jwks_uri"]!.GetValue<string>())));
        Assert.Equal(jwt.KeyId, jwks!["keys"]![0]!["kid"]!.GetValue<string>());
        Assert.True(FakeJwt.VerifyRs256(jwt, jwks["keys"]![0]!.AsObject()));

        var tooShort = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = ["q"], ExpirationSeconds = 599 } };
        var invalid = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(tooShort, "builder", "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.Response.StatusCode);
    }

    [Fact]
    public async Task TokenRequest_defaults_audience_and_expiry_as_the_API_server_does()
    {
        var response = await Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec() }, "builder", "team-a");

        var jwt = FakeJwt.Parse(response.Status.Token);
        Assert.Equal([FakeKubernetesApi.DefaultAudience], jwt.Audiences);
        Assert.Equal([FakeKubernetesApi.DefaultAudience], response.Spec.Audiences);
        Assert.Equal(3600, response.Spec.ExpirationSeconds);
        Assert.Equal(Time.GetUtcNow().AddHours(1).ToUnixTimeSeconds(), jwt.ExpiresAt!.Value.ToUnixTimeSeconds());

        var tooShort = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 599 } }, "builder", "team-a"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooShort.Response.StatusCode);
        Assert.Equal("Invalid", Reason(tooShort));
        Assert.Equal("TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes",
            JsonNode.Parse(tooShort.Response.Content)!["message"]!.GetValue<string>());

        Api.AddServiceAccount(new V1ServiceAccount { Metadata = new() { Name = "builder", NamespaceProperty = "team-a" } });
        var issued = await Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec() }, "builder", "team-a");
        Assert.Equal(Api.GetServiceAccount("team-a", "builder")!.Metadata.Uid,
            FakeJwt.Parse(issued.Status.Token).Payload["kubernetes.io"]!["serviceaccount"]!["uid"]!.GetValue<string>());
    }

    [Fact]
    public async Task Faults_fail_the_call_and_are_counted()
    {
        Api.PutSecret(Secret("pull", ns: "team-a"));

        Api.SetFault("secrets.get", Fault.Status(500) with { Times = 1 });
        var failed = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));
        Assert.Equal(HttpStatusCode.InternalServerError, failed.Response.StatusCode);
        await Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"); // Times = 1: cleared

        Api.SetFault("secrets.get", Fault.Reset);
        await Assert.ThrowsAsync<HttpRequestException>(() => Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a"));

        Api.SetFault("secrets.get", Fault.Hang);
        using var giveUp = new CancellationTokenSource();
        var hanging = Client.CoreV1.ReadNamespacedSecretAsync("pull", "team-a", cancellationToken: giveUp.Token);
        await Api.WaitForCountAsync("secrets.get", 4).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(hanging.IsCompleted);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);

        Assert.Equal(4, Api.Count("secrets.get"));
        Assert.Equal(4, Api.TotalCount);
    }

    [Fact]
    public async Task Leases_let_one_holder_win_and_reject_a_stale_update()
    {
        var now = Time.GetUtcNow().UtcDateTime;
        V1Lease Lease(string holder, DateTime renewed, string? resourceVersion = null) => new()
        {
            Metadata = new V1ObjectMeta { Name = "refresher", NamespaceProperty = "quay-admission", ResourceVersion = resourceVersion },
            Spec = new V1LeaseSpec { HolderIdentity = holder, AcquireTime = now, RenewTime = renewed, LeaseDurationSeconds = 15 },
        };

        var created = await Client.CoordinationV1.CreateNamespacedLeaseAsync(Lease("pod-1", now), "quay-admission");
        var lost = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoordinationV1.CreateNamespacedLeaseAsync(Lease("pod-2", now), "quay-admission"));
        Assert.Equal(HttpStatusCode.Conflict, lost.Response.StatusCode);
        Assert.Equal("pod-1", (await Client.CoordinationV1.ReadNamespacedLeaseAsync("refresher", "quay-admission")).Spec.HolderIdentity);

        await Client.CoordinationV1.ReplaceNamespacedLeaseAsync(Lease("pod-1", now.AddSeconds(5), created.Metadata.ResourceVersion), "refresher", "quay-admission");
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CoordinationV1.ReplaceNamespacedLeaseAsync(Lease("pod-2", now.AddSeconds(5), created.Metadata.ResourceVersion), "refresher", "quay-admission"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Equal("pod-1", Api.GetLease("quay-admission", "refresher")!.Spec.HolderIdentity);
    }

    [Fact]
    public async Task Concurrent_creates_each_get_their_own_resourceVersion()
    {
        var creates = Enumerable.Range(0, 200).Select(i => Client.CoreV1.CreateNamespacedSecretAsync(Secret($"s{i}"), "team-a"));

        var created = await Task.WhenAll(creates);

        Assert.Equal(200, created.Select(s => s.Metadata.ResourceVersion).Distinct().Count());
        Assert.Equal(200, Api.Secrets.Count);
        Assert.Equal(200, Api.Count("secrets.create"));
    }

    [Fact]
    public async Task Kubeconfig_points_a_client_at_the_fake()
    {
        var path = Api.WriteKubeconfig(Path.Combine(Path.GetTempPath(), $"fake-kubeconfig-{Guid.NewGuid():N}"));
        try
        {
            Api.AddNamespace(new V1Namespace { Metadata = new() { Name = "team-a", Labels = new Dictionary<string, string> { ["quay"] = "on" } } });
            using var client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(path));

            var ns = await client.CoreV1.ReadNamespaceAsync("team-a");

            Assert.Equal("on", ns.Metadata.Labels["quay"]);
            Assert.Equal(1, Api.Count("namespaces.get"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static V1Patch MergePatch(string json) => new(json, V1Patch.PatchType.MergePatch);

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
}
