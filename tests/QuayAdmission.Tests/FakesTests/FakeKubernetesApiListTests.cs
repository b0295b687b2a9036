using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>Lists as the API documents them ("Retrieving large results sets in chunks", "Resource versions"), through the real client.</summary>
public sealed class FakeKubernetesApiListTests : FakeKubernetesApiFixture
{
    [Fact]
    public async Task Pages_read_one_consistent_snapshot_while_objects_change()
    {
        Api.PutSecrets(Secrets("team-a", "a", "b", "c", "d", "e"));

        var first = await Client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 2);
        Api.PutSecret(Secret("bb", "team-a"));
        Api.DeleteSecret("team-a", "c");
        var second = await Client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 2, continueParameter: first.Metadata.ContinueProperty);
        var third = await Client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 2, continueParameter: second.Metadata.ContinueProperty);

        Assert.Equal(["a", "b"], Names(first));
        Assert.Equal(3, first.Metadata.RemainingItemCount);
        Assert.Equal(["c", "d"], Names(second)); // c deleted and bb created after the first page: not seen
        Assert.Equal(1, second.Metadata.RemainingItemCount);
        Assert.Equal(["e"], Names(third));
        Assert.Null(third.Metadata.ContinueProperty);
        Assert.Null(third.Metadata.RemainingItemCount);
        Assert.Equal("6", first.Metadata.ResourceVersion);
        Assert.All([second, third], page => Assert.Equal(first.Metadata.ResourceVersion, page.Metadata.ResourceVersion));

        var fresh = await Client.CoreV1.ListNamespacedSecretAsync("team-a");
        Assert.Equal(["a", "b", "bb", "d", "e"], Names(fresh));
        Assert.Equal("8", fresh.Metadata.ResourceVersion);
        Assert.Null(fresh.Metadata.ContinueProperty);
    }

    [Fact]
    public async Task Cluster_wide_pages_with_selectors_cover_every_match_once()
    {
        var pods = Enumerable.Range(0, 1200).Select(i => Pod($"p{i:D4}", $"team-{i % 3}", injected: i % 2 == 0, node: i % 4 == 0 ? "" : "node-1"));
        Api.PutPods(pods);

        var seen = new List<string>();
        string? next = null;
        do
        {
            var page = await Client.CoreV1.ListPodForAllNamespacesAsync(
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
        Api.PutSecret(Secret("x", "team"));
        Api.PutSecret(Secret("y", "team-a"));

        var raw = await RawGetAsync("/api/v1/secrets");

        var items = raw["items"]!.AsArray();
        Assert.Equal(["team-a/y", "team/x"], items.Select(i => $"{i!["metadata"]!["namespace"]}/{i["metadata"]!["name"]}")); // '-' sorts before '/'
        Assert.All(items, i => Assert.Null(i!["kind"]));
        Assert.Equal("SecretList", raw["kind"]!.GetValue<string>());
        Assert.Equal("Secret", (await Client.CoreV1.ReadNamespacedSecretAsync("x", "team")).Kind);
    }

    [Fact]
    public async Task A_continue_token_from_before_a_compaction_is_410_Expired_with_an_inconsistent_token()
    {
        Api.PutSecrets(Secrets("team-a", "a", "b", "c"));
        var first = await Client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1);
        Api.PutSecret(Secret("z", "team-a"));
        Api.Compact();

        var expired = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1, continueParameter: first.Metadata.ContinueProperty));

        Assert.Equal(HttpStatusCode.Gone, expired.Response.StatusCode);
        var status = JsonNode.Parse(expired.Response.Content)!;
        Assert.Equal("Expired", status["reason"]!.GetValue<string>());
        Assert.Equal(410, status["code"]!.GetValue<int>());
        var inconsistent = status["metadata"]!["continue"]!.GetValue<string>();

        // The token the 410 carries goes on from the latest state: z, created after the first page, shows up.
        var rest = await Client.CoreV1.ListNamespacedSecretAsync("team-a", continueParameter: inconsistent);
        Assert.Equal(["b", "c", "z"], Names(rest));
        Assert.Equal(Api.CurrentResourceVersion, rest.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task A_continue_token_older_than_the_retained_history_is_410()
    {
        Api.HistoryLimit = 3;
        Api.PutSecrets(Secrets("team-a", "a", "b"));
        var first = await Client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1);
        Api.PutSecrets(Secrets("team-a", "c", "d", "e", "f"));

        var expired = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CoreV1.ListNamespacedSecretAsync("team-a", limit: 1, continueParameter: first.Metadata.ContinueProperty));

        Assert.Equal(HttpStatusCode.Gone, expired.Response.StatusCode);
    }

    [Fact]
    public async Task ResourceVersion_semantics_on_list()
    {
        Api.PutSecret(Secret("a", "team-a"));
        var atOne = Api.CurrentResourceVersion;
        Api.PutSecret(Secret("b", "team-a"));
        Api.DeleteSecret("team-a", "a");

        var exact = await Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: atOne, resourceVersionMatch: "Exact");
        var any = await Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "0");
        var notOlder = await Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: atOne, resourceVersionMatch: "NotOlderThan");

        Assert.Equal(["a"], Names(exact));
        Assert.Equal(atOne, exact.Metadata.ResourceVersion);
        Assert.Equal(["b"], Names(any));
        Assert.Equal(["b"], Names(notOlder));
        Assert.Equal("4", notOlder.Metadata.ResourceVersion);

        var tooLarge = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "99"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, tooLarge.Response.StatusCode);
        Assert.Equal("Timeout", Reason(tooLarge));

        var withContinue = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "2", continueParameter: "abc"));
        Assert.Equal(HttpStatusCode.BadRequest, withContinue.Response.StatusCode);

        var matchWithoutVersion = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersionMatch: "Exact"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, matchWithoutVersion.Response.StatusCode);

        Api.Compact();
        var compacted = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: atOne, resourceVersionMatch: "Exact"));
        Assert.Equal(HttpStatusCode.Gone, compacted.Response.StatusCode);
        Assert.Equal("Expired", Reason(compacted));
    }

    [Fact]
    public async Task Selectors_filter_lists_and_an_unsupported_field_is_BadRequest()
    {
        Api.PutPods([Pod("a", "team-a", injected: true, node: "n1", phase: "Running", serviceAccount: "builder"), Pod("b", "team-a", injected: false, node: "", phase: "Pending"), Pod("c", "team-b", injected: true, node: "n2", phase: "Succeeded")]);

        async Task<IEnumerable<string>> PodsWhere(string? labels = null, string? fields = null) =>
            Names(await Client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: labels, fieldSelector: fields));

        Assert.Equal(["a", "c"], await PodsWhere(labels: "quay-admission.io/injected=true"));
        Assert.Equal(["b"], await PodsWhere(labels: "quay-admission.io/injected notin (true)"));
        Assert.Equal(["a"], await PodsWhere(fields: "spec.serviceAccountName=builder"));
        Assert.Equal(["b", "c"], await PodsWhere(fields: "status.phase!=Running"));
        Assert.Equal(["c"], await PodsWhere(labels: "quay-admission.io/injected", fields: "metadata.namespace=team-b,spec.nodeName==n2"));
        Assert.Equal(["b"], await PodsWhere(fields: "spec.nodeName="));

        var unsupported = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespacedSecretAsync("team-a", fieldSelector: "spec.nodeName=n1"));
        Assert.Equal(HttpStatusCode.BadRequest, unsupported.Response.StatusCode);
        Assert.Equal("BadRequest", Reason(unsupported));
        Assert.Contains("field label not supported: spec.nodeName", unsupported.Response.Content);

        var badLabels = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: "a in (b"));
        Assert.Equal(HttpStatusCode.BadRequest, badLabels.Response.StatusCode);
    }

    [Fact]
    public async Task Every_served_kind_lists_with_limit_and_continue()
    {
        Api.AddNamespace(new V1Namespace { Metadata = new() { Name = "team-a" } });
        Api.AddNamespace(new V1Namespace { Metadata = new() { Name = "team-b" } });
        Api.AddServiceAccount(new V1ServiceAccount { Metadata = new() { Name = "builder", NamespaceProperty = "team-a" } });
        Api.AddServiceAccount(new V1ServiceAccount { Metadata = new() { Name = "default", NamespaceProperty = "team-a" } });
        Api.PutLease(new V1Lease { Metadata = new() { Name = "one", NamespaceProperty = "team-a" } });
        Api.PutLease(new V1Lease { Metadata = new() { Name = "two", NamespaceProperty = "team-a" } });

        var namespaces = await Client.CoreV1.ListNamespaceAsync(limit: 1);
        var accounts = await Client.CoreV1.ListNamespacedServiceAccountAsync("team-a", limit: 1);
        var leases = await Client.CoordinationV1.ListNamespacedLeaseAsync("team-a", limit: 1);

        Assert.Equal(["team-a"], Names(namespaces));
        Assert.Equal(["team-b"], Names(await Client.CoreV1.ListNamespaceAsync(continueParameter: namespaces.Metadata.ContinueProperty)));
        Assert.Equal(["default"], Names(await Client.CoreV1.ListNamespacedServiceAccountAsync("team-a", continueParameter: accounts.Metadata.ContinueProperty)));
        Assert.Equal(["two"], Names(await Client.CoordinationV1.ListNamespacedLeaseAsync("team-a", continueParameter: leases.Metadata.ContinueProperty)));
        Assert.Equal(["namespaces.list", "serviceaccounts.list", "leases.list"], Api.Requests.Take(3).Select(r => r.Operation));
    }

    private async Task<JsonNode> RawGetAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = Api.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", FakeKubernetesApi.AdminToken);
        return JsonNode.Parse(await http.GetStringAsync(new Uri(path, UriKind.Relative)))!;
    }

    private static IEnumerable<string> Names<T>(IItems<T> list)
        where T : IMetadata<V1ObjectMeta> => list.Items.Select(i => i.Metadata.Name);
}
