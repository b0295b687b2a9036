using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>Lists as the API documents them ("Retrieving large results sets in chunks", "Resource versions"), through the real client.</summary>
public sealed class FakeKubernetesApiListTests : IAsyncLifetime
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
    public async Task Pages_read_one_consistent_snapshot_while_objects_change()
    {
        _api.PutSecrets(Secrets("team-a", "a", "b", "c", "d", "e"));

        var first = await _client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 2);
        _api.PutSecret(Secret("bb", "team-a"));
        _api.DeleteSecret("team-a", "c");
        var second = await _client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 2, continueParameter: first.Metadata.ContinueProperty);
        var third = await _client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 2, continueParameter: second.Metadata.ContinueProperty);

        Assert.Equal(["a", "b"], Names(first));
        Assert.Equal(3, first.Metadata.RemainingItemCount);
        Assert.Equal(["c", "d"], Names(second)); // c deleted and bb created after the first page: not seen
        Assert.Equal(1, second.Metadata.RemainingItemCount);
        Assert.Equal(["e"], Names(third));
        Assert.Null(third.Metadata.ContinueProperty);
        Assert.Null(third.Metadata.RemainingItemCount);
        Assert.Equal("5", first.Metadata.ResourceVersion);
        Assert.All([second, third], page => Assert.Equal(first.Metadata.ResourceVersion, page.Metadata.ResourceVersion));

        var fresh = await _client.CoreV1.ListNamespacedSecretAsync("team-a");
        Assert.Equal(["a", "b", "bb", "d", "e"], Names(fresh));
        Assert.Equal("7", fresh.Metadata.ResourceVersion);
        Assert.Null(fresh.Metadata.ContinueProperty);
    }

    [Fact]
    public async Task Cluster_wide_pages_with_selectors_cover_every_match_once()
    {
        var pods = Enumerable.Range(0, 1200).Select(i => Pod($"p{i:D4}", $"team-{i % 3}", injected: i % 2 == 0, node: i % 4 == 0 ? "" : "node-1"));
        _api.PutPods(pods);

        var seen = new List<string>();
        string? next = null;
        do
        {
            var page = await _client.CoreV1.ListPodForAllNamespacesAsync(
                labelSelector: "quay-admission.io/injected=true", fieldSelector: "spec.nodeName!=", limit: 100, continueParameter: next);
            Assert.Null(page.Metadata.RemainingItemCount); // unknown with selectors, as in the real API
            seen.AddRange(page.Items.Select(p => $"{p.Metadata.NamespaceProperty}/{p.Metadata.Name}"));
            next = page.Metadata.ContinueProperty;
        }
        while (next is not null);

        var expected = Enumerable.Range(0, 1200).Where(i => i % 2 == 0 && i % 4 != 0).Select(i => $"team-{i % 3}/p{i:D4}").Order(StringComparer.Ordinal);
        Assert.Equal(expected, seen);
    }

    [Fact]
    public async Task Items_come_in_etcd_key_order_without_kind()
    {
        _api.PutSecret(Secret("x", "team"));
        _api.PutSecret(Secret("y", "team-a"));

        var raw = await RawGetAsync("/api/v1/secrets");

        var items = raw["items"]!.AsArray();
        Assert.Equal(["team-a/y", "team/x"], items.Select(i => $"{i!["metadata"]!["namespace"]}/{i["metadata"]!["name"]}")); // '-' sorts before '/'
        Assert.All(items, i => Assert.Null(i!["kind"]));
        Assert.Equal("SecretList", raw["kind"]!.GetValue<string>());
        Assert.Equal("Secret", (await _client.CoreV1.ReadNamespacedSecretAsync("x", "team")).Kind);
    }

    [Fact]
    public async Task A_continue_token_from_before_a_compaction_is_410_Expired_with_an_inconsistent_token()
    {
        _api.PutSecrets(Secrets("team-a", "a", "b", "c"));
        var first = await _client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1);
        _api.PutSecret(Secret("z", "team-a"));
        _api.Compact();

        var expired = await Assert.ThrowsAsync<HttpOperationException>(() =>
            _client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1, continueParameter: first.Metadata.ContinueProperty));

        Assert.Equal(HttpStatusCode.Gone, expired.Response.StatusCode);
        var status = JsonNode.Parse(expired.Response.Content)!;
        Assert.Equal("Expired", status["reason"]!.GetValue<string>());
        Assert.Equal(410, status["code"]!.GetValue<int>());
        var inconsistent = status["metadata"]!["continue"]!.GetValue<string>();

        // The token the 410 carries goes on from the latest state: z, created after the first page, shows up.
        var rest = await _client.CoreV1.ListNamespacedSecretAsync("team-a", continueParameter: inconsistent);
        Assert.Equal(["b", "c", "z"], Names(rest));
        Assert.Equal(_api.CurrentResourceVersion, rest.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task A_continue_token_older_than_the_retained_history_is_410()
    {
        _api.HistoryLimit = 3;
        _api.PutSecrets(Secrets("team-a", "a", "b"));
        var first = await _client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1);
        _api.PutSecrets(Secrets("team-a", "c", "d", "e", "f"));

        var expired = await Assert.ThrowsAsync<HttpOperationException>(() =>
            _client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1, continueParameter: first.Metadata.ContinueProperty));

        Assert.Equal(HttpStatusCode.Gone, expired.Response.StatusCode);
    }

    [Fact]
    public async Task ResourceVersion_semantics_on_list()
    {
        _api.PutSecret(Secret("a", "team-a"));
        var atOne = _api.CurrentResourceVersion;
        _api.PutSecret(Secret("b", "team-a"));
        _api.DeleteSecret("team-a", "a");

        var exact = await _client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: atOne, resourceVersionMatch: "Exact");
        var any = await _client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "0");
        var notOlder = await _client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: atOne, resourceVersionMatch: "NotOlderThan");

        Assert.Equal(["a"], Names(exact));
        Assert.Equal(atOne, exact.Metadata.ResourceVersion);
        Assert.Equal(["b"], Names(any));
        Assert.Equal(["b"], Names(notOlder));
        Assert.Equal("3", notOlder.Metadata.ResourceVersion);

        var tooLarge = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "99"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, tooLarge.Response.StatusCode);
        Assert.Equal("Timeout", Reason(tooLarge));

        var withContinue = await Assert.ThrowsAsync<HttpOperationException>(() =>
            _client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "2", continueParameter: "abc"));
        Assert.Equal(HttpStatusCode.BadRequest, withContinue.Response.StatusCode);

        var matchWithoutVersion = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersionMatch: "Exact"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, matchWithoutVersion.Response.StatusCode);

        _api.Compact();
        var compacted = await Assert.ThrowsAsync<HttpOperationException>(() =>
            _client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: atOne, resourceVersionMatch: "Exact"));
        Assert.Equal(HttpStatusCode.Gone, compacted.Response.StatusCode);
        Assert.Equal("Expired", Reason(compacted));
    }

    [Fact]
    public async Task Selectors_filter_lists_and_an_unsupported_field_is_BadRequest()
    {
        _api.PutPods([Pod("a", "team-a", injected: true, node: "n1", phase: "Running", serviceAccount: "builder"), Pod("b", "team-a", injected: false, node: "", phase: "Pending"), Pod("c", "team-b", injected: true, node: "n2", phase: "Succeeded")]);

        async Task<IEnumerable<string>> PodsWhere(string? labels = null, string? fields = null) =>
            Names(await _client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: labels, fieldSelector: fields));

        Assert.Equal(["a", "c"], await PodsWhere(labels: "quay-admission.io/injected=true"));
        Assert.Equal(["b"], await PodsWhere(labels: "quay-admission.io/injected notin (true)"));
        Assert.Equal(["a"], await PodsWhere(fields: "spec.serviceAccountName=builder"));
        Assert.Equal(["b", "c"], await PodsWhere(fields: "status.phase!=Running"));
        Assert.Equal(["c"], await PodsWhere(labels: "quay-admission.io/injected", fields: "metadata.namespace=team-b,spec.nodeName==n2"));
        Assert.Equal(["b"], await PodsWhere(fields: "spec.nodeName="));

        var unsupported = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ListNamespacedSecretAsync("team-a", fieldSelector: "spec.nodeName=n1"));
        Assert.Equal(HttpStatusCode.BadRequest, unsupported.Response.StatusCode);
        Assert.Equal("BadRequest", Reason(unsupported));
        Assert.Contains("field label not supported: spec.nodeName", unsupported.Response.Content);

        var badLabels = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: "a in (b"));
        Assert.Equal(HttpStatusCode.BadRequest, badLabels.Response.StatusCode);
    }

    [Fact]
    public async Task Every_served_kind_lists_with_limit_and_continue()
    {
        _api.AddNamespace(new V1Namespace { Metadata = new() { Name = "team-a" } });
        _api.AddNamespace(new V1Namespace { Metadata = new() { Name = "team-b" } });
        _api.AddServiceAccount(new V1ServiceAccount { Metadata = new() { Name = "builder", NamespaceProperty = "team-a" } });
        _api.AddServiceAccount(new V1ServiceAccount { Metadata = new() { Name = "default", NamespaceProperty = "team-a" } });
        _api.PutLease(new V1Lease { Metadata = new() { Name = "one", NamespaceProperty = "team-a" } });
        _api.PutLease(new V1Lease { Metadata = new() { Name = "two", NamespaceProperty = "team-a" } });

        var namespaces = await _client.CoreV1.ListNamespaceAsync(limit: 1);
        var accounts = await _client.CoreV1.ListNamespacedServiceAccountAsync("team-a", limit: 1);
        var leases = await _client.CoordinationV1.ListNamespacedLeaseAsync("team-a", limit: 1);

        Assert.Equal(["team-a"], Names(namespaces));
        Assert.Equal(["team-b"], Names(await _client.CoreV1.ListNamespaceAsync(continueParameter: namespaces.Metadata.ContinueProperty)));
        Assert.Equal(["default"], Names(await _client.CoreV1.ListNamespacedServiceAccountAsync("team-a", continueParameter: accounts.Metadata.ContinueProperty)));
        Assert.Equal(["two"], Names(await _client.CoordinationV1.ListNamespacedLeaseAsync("team-a", continueParameter: leases.Metadata.ContinueProperty)));
        Assert.Equal(["namespaces.list", "serviceaccounts.list", "leases.list"], _api.Requests.Take(3).Select(r => r.Operation));
    }

    private async Task<JsonNode> RawGetAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = _api.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", FakeKubernetesApi.AdminToken);
        return JsonNode.Parse(await http.GetStringAsync(new Uri(path, UriKind.Relative)))!;
    }

    private static IEnumerable<string> Names<T>(IItems<T> list)
        where T : IMetadata<V1ObjectMeta> => list.Items.Select(i => i.Metadata.Name);

    private static string? Reason(HttpOperationException e) => JsonNode.Parse(e.Response.Content)?["reason"]?.GetValue<string>();

    private static IEnumerable<V1Secret> Secrets(string ns, params string[] names) => names.Select(n => Secret(n, ns));

    private static V1Secret Secret(string name, string ns) => new() { Metadata = new() { Name = name, NamespaceProperty = ns }, Type = "Opaque" };

    internal static V1Pod Pod(string name, string ns, bool injected, string node = "", string phase = "Running", string serviceAccount = "default") => new()
    {
        Metadata = new()
        {
            Name = name,
            NamespaceProperty = ns,
            Labels = injected ? new Dictionary<string, string> { ["quay-admission.io/injected"] = "true" } : null,
        },
        Spec = new V1PodSpec { NodeName = node, ServiceAccountName = serviceAccount, Containers = [new V1Container { Name = "app", Image = "quay.io/acme/app" }] },
        Status = new V1PodStatus { Phase = phase },
    };
}
