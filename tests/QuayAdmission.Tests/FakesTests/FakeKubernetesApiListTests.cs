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
            var page = await Client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: "quay-admission.io/injected=true", limit: 100, continueParameter: next);
            Assert.Null(page.Metadata.RemainingItemCount); // unknown with selectors, as in the real API
            seen.AddRange(page.Items.Select(p => $"{p.Metadata.NamespaceProperty}/{p.Metadata.Name}"));
            next = page.Metadata.ContinueProperty;
        }
        while (next is not null);

        var expected = Enumerable.Range(0, 1200).Where(i => i % 2 == 0).Select(i => $"team-{i % 3}/p{i:D4}").Order(StringComparer.Ordinal);
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
    public async Task A_continue_token_from_before_a_compaction_is_410_Expired()
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

        // A list from the start, as the webhook's informer makes next, reads the latest state.
        Assert.Equal(["a", "b", "c", "z"], Names(await Client.CoreV1.ListNamespacedSecretAsync("team-a")));
    }

    [Fact]
    public async Task ResourceVersion_semantics_on_list()
    {
        Api.PutSecret(Secret("a", "team-a"));
        var atOne = Api.CurrentResourceVersion;
        Api.PutSecret(Secret("b", "team-a"));
        Api.DeleteSecret("team-a", "a");

        var any = await Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "0");
        var notOlder = await Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: atOne);

        Assert.Equal(["b"], Names(any));
        Assert.Equal(["b"], Names(notOlder));
        Assert.Equal("4", notOlder.Metadata.ResourceVersion);

        var tooLarge = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "99"));
        Assert.Equal(HttpStatusCode.GatewayTimeout, tooLarge.Response.StatusCode);
        Assert.Equal("Timeout", Reason(tooLarge));

        var withContinue = await Assert.ThrowsAsync<HttpOperationException>(() =>
            Client.CoreV1.ListNamespacedSecretAsync("team-a", resourceVersion: "2", continueParameter: "abc"));
        Assert.Equal(HttpStatusCode.BadRequest, withContinue.Response.StatusCode);
    }

    [Fact]
    public async Task Label_selectors_filter_lists_and_what_the_stand_in_does_not_serve_is_refused()
    {
        Api.PutPods([Pod("a", "team-a", injected: true), Pod("b", "team-a", injected: false), Pod("c", "team-b", injected: true)]);

        Assert.Equal(["a", "c"], Names(await Client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: "quay-admission.io/injected=true")));

        // Selectors and options the webhook never sends are a 400, not answered as if served.
        foreach (var (labels, fields) in new (string?, string?)[] { ("quay-admission.io/injected notin (true)", null), ("!quay-admission.io/injected", null), (null, "spec.nodeName=n1") })
        {
            var refused = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: labels, fieldSelector: fields));
            Assert.Equal(HttpStatusCode.BadRequest, refused.Response.StatusCode);
            Assert.Contains("stand-in", refused.Response.Content, StringComparison.Ordinal);
        }

        // So are the calls it never makes.
        var unserved = await Assert.ThrowsAsync<HttpOperationException>(() => Client.CoreV1.ListNamespaceAsync());
        Assert.Equal(HttpStatusCode.NotFound, unserved.Response.StatusCode);
        Assert.Equal("unknown", Api.Requests[^1].Operation);
    }

    [Fact]
    public async Task Pods_of_one_namespace_list_in_pages()
    {
        Api.PutPods([Pod("a", "team-a", injected: false), Pod("b", "team-a", injected: true), Pod("c", "team-a", injected: false), Pod("d", "team-b", injected: false)]);

        var first = await Client.CoreV1.ListNamespacedPodAsync("team-a", limit: 2);
        var rest = await Client.CoreV1.ListNamespacedPodAsync("team-a", limit: 2, continueParameter: first.Metadata.ContinueProperty);

        Assert.Equal(["a", "b"], Names(first));
        Assert.Equal(1, first.Metadata.RemainingItemCount);
        Assert.Equal(["c"], Names(rest));
        Assert.Null(rest.Metadata.ContinueProperty);
        Assert.Equal(["pods.list", "pods.list"], Api.Requests.Select(r => r.Operation));
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
