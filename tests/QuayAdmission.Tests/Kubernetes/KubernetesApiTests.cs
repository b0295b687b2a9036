using System.Net;
using System.Text;
using System.Text.Json;
using k8s.Autorest;
using k8s.Models;
using QuayAdmission.Kubernetes;
using Microsoft.AspNetCore.Http;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.FakesTests;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Kubernetes;

/// <summary>
/// The webhook's own narrow API client against the stand-in, read back through the full
/// KubernetesClient: what it writes is what the library would have written, and what it reads is
/// what the API answered.
/// </summary>
public sealed class KubernetesApiTests : FakeKubernetesApiFixture
{
    private KubernetesApi? kube;

    private KubernetesApi Kube => kube ??= new(Api.ClientConfiguration());

    [Fact]
    public async Task A_Secret_is_created_read_patched_and_deleted_with_its_bytes_and_resourceVersion()
    {
        var secret = Secret("quay-pull", "team-a");
        secret.Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = Encoding.UTF8.GetBytes("{\"auths\":{}}") };

        var created = await Kube.CreateSecretAsync(secret, CancellationToken.None);
        Assert.Equal(secret.Data[".dockerconfigjson"], Api.GetSecret("team-a", "quay-pull")!.Data[".dockerconfigjson"]);

        var read = await Kube.ReadSecretAsync("team-a", "quay-pull", CancellationToken.None);
        Assert.Equal(created.Metadata.ResourceVersion, read.Metadata.ResourceVersion);
        Assert.NotNull(read.Metadata.CreationTimestamp);

        var patch = new V1Secret
        {
            Metadata = new V1ObjectMeta { ResourceVersion = read.Metadata.ResourceVersion, Annotations = new Dictionary<string, string> { ["a"] = "1" } },
            Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = Encoding.UTF8.GetBytes("{\"auths\":{\"quay.io\":{}}}") },
        };
        var patched = await Kube.PatchSecretAsync("team-a", "quay-pull", patch, CancellationToken.None);
        Assert.NotEqual(read.Metadata.ResourceVersion, patched.Metadata.ResourceVersion);
        Assert.Equal(read.Metadata.Uid, patched.Metadata.Uid);
        Assert.Equal("1", patched.Metadata.Annotations["a"]);
        Assert.Equal(read.Metadata.Labels, patched.Metadata.Labels);

        // The first read is stale now: the API refuses a patch guarded by it, and the delete.
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => Kube.PatchSecretAsync("team-a", "quay-pull", patch, CancellationToken.None));
        Assert.True(stale.IsStatus(HttpStatusCode.Conflict));
        var guarded = await Assert.ThrowsAsync<HttpOperationException>(() => Kube.DeleteSecretAsync("team-a", "quay-pull", read.Metadata.ResourceVersion, CancellationToken.None));
        Assert.True(guarded.IsStatus(HttpStatusCode.Conflict));

        await Kube.DeleteSecretAsync("team-a", "quay-pull", patched.Metadata.ResourceVersion, CancellationToken.None);
        Assert.Null(Api.GetSecret("team-a", "quay-pull"));
        var gone = await Assert.ThrowsAsync<HttpOperationException>(() => Kube.ReadSecretAsync("team-a", "quay-pull", CancellationToken.None));
        Assert.True(gone.IsStatus(HttpStatusCode.NotFound));
        Assert.Equal("404 Not Found", KubernetesErrors.Describe(gone));
    }

    [Fact]
    public async Task Every_request_names_the_webhook_in_its_User_Agent_and_writes_as_its_field_manager()
    {
        var secret = Secret("quay-pull", "team-a");
        secret.Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = Encoding.UTF8.GetBytes("{\"auths\":{}}") };

        await Kube.CreateSecretAsync(secret, CancellationToken.None);
        await Kube.ReadSecretAsync("team-a", "quay-pull", CancellationToken.None);
        await Kube.ListSecretsAsync(labelSelector: null, limit: null, continueToken: null, CancellationToken.None);

        Assert.Matches(@"^quay-admission/[0-9]+\.[0-9]+\.[0-9]+[^ ]* \(linux/(amd64|arm64)\)\z", KubernetesApi.UserAgent);
        Assert.All(Api.Requests, r => Assert.Equal(KubernetesApi.UserAgent, r.UserAgent));
        Assert.Equal(3, Api.Requests.Count);
        // The API server names a writer's managedFields entry after its User-Agent.
        Assert.Contains(Api.GetSecret("team-a", "quay-pull")!.Metadata.ManagedFields, m => m.Manager == "quay-admission");
    }

    [Fact]
    public async Task Pods_are_listed_in_pages_as_views_with_their_service_account_pull_secrets_and_phase()
    {
        Api.PutPods(Enumerable.Range(0, 5).Select(i =>
        {
            var pod = Pod($"web-{i}", "team-a", injected: i % 2 == 0, phase: i == 4 ? "Succeeded" : "Running", serviceAccount: $"sa-{i}");
            pod.Spec.ImagePullSecrets = [new V1LocalObjectReference { Name = $"quay-{i}" }];
            return pod;
        }));
        Api.PutPod(Pod("elsewhere", "team-b", injected: true));

        var pages = new List<PodViewList>();
        string? next = null;
        do
        {
            var page = await Kube.ListPodsAsync("team-a", labelSelector: null, limit: 2, next, CancellationToken.None);
            pages.Add(page);
            next = page.Metadata.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(next));

        Assert.Equal([2, 2, 1], pages.Select(p => p.Items.Count));
        var pods = pages.SelectMany(p => p.Items).OrderBy(p => p.Metadata.Name, StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"web-{i}"), pods.Select(p => p.Metadata.Name));
        Assert.All(pods, p => Assert.Equal("team-a", p.Metadata.NamespaceProperty));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"sa-{i}"), pods.Select(p => p.Spec!.ServiceAccountName));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"quay-{i}"), pods.Select(p => Assert.Single(p.Spec!.ImagePullSecrets!).Name));
        Assert.Equal(["Running", "Running", "Running", "Running", "Succeeded"], pods.Select(p => p.Status!.Phase));

        var injected = await Kube.ListPodsAsync(ns: null, "quay-admission.io/injected=true", limit: null, continueToken: null, CancellationToken.None);
        Assert.Equal(["elsewhere", "web-0", "web-2", "web-4"], injected.Items.Select(p => p.Metadata.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("..", "builder")]
    [InlineData("team-a\n", "builder")]
    [InlineData("team-a", "../default")]
    [InlineData("team-a", "builder\n")]
    [InlineData("Team-A", "builder")]
    public async Task A_name_the_name_rules_refuse_never_reaches_a_path(string ns, string name)
    {
        await Assert.ThrowsAsync<InvalidApiNameException>(() => Kube.ReadServiceAccountAsync(ns, name, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidApiNameException>(() => Kube.CreateTokenAsync(ns, name, new Authenticationv1TokenRequest(), CancellationToken.None));
        await Assert.ThrowsAsync<InvalidApiNameException>(() => Kube.ReadSecretAsync(ns, name, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidApiNameException>(() => Kube.ReadNamespaceAsync(ns == "team-a" ? name : ns, CancellationToken.None));
        Assert.Empty(Api.Requests);
    }

    [Fact]
    public async Task A_Lease_keeps_its_times_to_the_microsecond()
    {
        var renewed = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1234560);
        var lease = new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "quay-admission", NamespaceProperty = "quay-admission" },
            Spec = new V1LeaseSpec { HolderIdentity = "a", LeaseDurationSeconds = 15, AcquireTime = renewed, RenewTime = renewed },
        };

        var created = await Kube.CreateLeaseAsync(lease, CancellationToken.None);
        Assert.Equal(renewed, Api.GetLease("quay-admission", "quay-admission")!.Spec.RenewTime);
        Assert.Equal(renewed, created.Spec.RenewTime);

        created.Spec.RenewTime = renewed.AddSeconds(2);
        await Kube.ReplaceLeaseAsync(created, CancellationToken.None);
        var read = await Kube.ReadLeaseAsync("quay-admission", "quay-admission", CancellationToken.None);
        Assert.Equal(renewed.AddSeconds(2), read.Spec.RenewTime);
        Assert.Equal(DateTimeKind.Utc, read.Spec.RenewTime!.Value.Kind);
    }

    [Fact]
    public async Task A_TokenRequest_returns_the_token_for_the_audience_asked()
    {
        Api.AddServiceAccount(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "team-a" } });
        var request = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = ["quay.example"], ExpirationSeconds = 600 } };

        var issued = await Kube.CreateTokenAsync("team-a", "web", request, CancellationToken.None);

        Assert.False(string.IsNullOrEmpty(issued.Status.Token));
        Assert.Equal(["quay.example"], issued.Spec.Audiences);
    }

    [Fact]
    public async Task A_call_that_outlives_the_client_timeout_is_cancelled_not_left_waiting()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        // A server that accepts and never answers.
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var api = new KubernetesApi(new k8s.KubernetesClientConfiguration
        {
            Host = $"http://127.0.0.1:{port}",
            HttpClientTimeout = TimeSpan.FromMilliseconds(300),
        });

        await Assert.ThrowsAnyAsync<TaskCanceledException>(() => api.ReadNamespaceAsync("team-a", CancellationToken.None));
    }

    [Theory]
    [InlineData(1024, true)]
    [InlineData(KubernetesApi.MaxErrorBodyBytes + 1, false)]
    public async Task An_error_is_a_status_only_when_its_body_is_the_size_of_one(int bodyBytes, bool status)
    {
        await using var server = await LoopbackServer.StartAsync(
            async context =>
            {
                context.Response.StatusCode = 404;
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(new string(' ', bodyBytes)));
            },
            certificate: null, CancellationToken.None);
        using var api = new KubernetesApi(new k8s.KubernetesClientConfiguration { Host = server.BaseAddress.ToString() });

        var error = await Assert.ThrowsAnyAsync<Exception>(() => api.ReadSecretAsync("team-a", "x", CancellationToken.None));

        Assert.Equal(status, error.IsStatus(HttpStatusCode.NotFound));
        if (!status)
            Assert.IsType<InvalidDataException>(error);
    }

    [Fact]
    public async Task The_API_server_is_trusted_through_the_configured_CA_alone_and_sent_the_token()
    {
        using var cluster = TlsChain.Create();
        using var stranger = TlsChain.Create();
        var authorization = new List<string?>();
        await using var server = await LoopbackServer.StartAsync(
            async context =>
            {
                authorization.Add(context.Request.Headers.Authorization);
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"metadata\":{\"name\":\"team-a\"}}");
            },
            cluster.Leaf, CancellationToken.None, chain: [cluster.Intermediate]);

        KubernetesApi Client(TlsChain ca) => new(new k8s.KubernetesClientConfiguration
        {
            Host = server.BaseAddress.ToString(),
            SslCaCerts = [ca.Root],
            AccessToken = "cluster-token",
        });

        using var trusting = Client(cluster);
        Assert.Equal("team-a", (await trusting.ReadNamespaceAsync("team-a", CancellationToken.None)).Metadata.Name);
        Assert.Equal(["Bearer cluster-token"], authorization);

        using var distrusting = Client(stranger);
        await Assert.ThrowsAsync<HttpRequestException>(() => distrusting.ReadNamespaceAsync("team-a", CancellationToken.None));
        Assert.Single(authorization);
    }

    [Theory]
    [InlineData("\"2030-01-02T03:04:05Z\"", 0)]
    [InlineData("\"2030-01-02T03:04:05.123456Z\"", 1234560)]
    [InlineData("\"2030-01-02T03:04:05.123456789Z\"", 1234568)]
    [InlineData("\"2030-01-02T05:04:05.5+02:00\"", 5000000)]
    public void Times_are_read_from_RFC_3339_with_any_precision_and_written_with_microseconds_in_UTC(string json, long ticks)
    {
        var expected = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(ticks);
        var lease = JsonSerializer.Deserialize($"{{\"spec\":{{\"renewTime\":{json}}}}}", KubernetesJsonContext.Default.V1Lease)!;

        Assert.Equal(expected, lease.Spec.RenewTime);
        var written = JsonSerializer.Serialize(lease, KubernetesJsonContext.Default.V1Lease);
        Assert.Contains($"\"renewTime\":\"2030-01-02T03:04:05.{ticks / 10:000000}Z\"", written, StringComparison.Ordinal);
        Assert.DoesNotContain("null", written, StringComparison.Ordinal);
    }
}
