using Microsoft.Extensions.DependencyInjection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

public sealed class MutateTests : IAsyncLifetime
{
    private WebhookHost host = null!;

    public async Task InitializeAsync()
    {
        host = await WebhookHost.StartAsync();
        host.Trust("acme+puller");
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    private string SecretName(string robot = "acme+puller", string serviceAccount = "default") =>
        PullSecretKey.NameFor(serviceAccount, host.RegistryHost, robot);

    private static string[] PullSecrets(JsonNode pod) =>
        pod["spec"]?["imagePullSecrets"]?.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToArray() ?? [];

    [Fact]
    public async Task Fresh_pod_gets_a_token_a_secret_and_a_patch()
    {
        var pod = Pods.Json();
        var result = await host.AdmitAsync(pod, uid: "uid-fresh");

        Assert.Equal("uid-fresh", result.Uid);
        Assert.True(result.Allowed);
        Assert.Empty(result.Warnings);
        Assert.Equal("JSONPatch", result.Response!["patchType"]!.GetValue<string>());

        // Exactly one TokenRequest for the registry's audience, and one exchange presenting that token.
        var tokenRequest = Assert.Single(host.Kube.Requests, r => r.Operation == "tokenrequest");
        Assert.Equal("/api/v1/namespaces/team-a/serviceaccounts/default/token", tokenRequest.Path);
        using (var body = JsonDocument.Parse(tokenRequest.Body!))
        {
            Assert.Equal(host.RegistryHost, body.RootElement.GetProperty("spec").GetProperty("audiences")[0].GetString());
            Assert.Equal(600, body.RootElement.GetProperty("spec").GetProperty("expirationSeconds").GetInt64());
        }
        var exchange = Assert.Single(host.Quay.Exchanges);
        Assert.True(exchange.Succeeded);
        Assert.Equal("acme+puller", exchange.Robot);
        Assert.Equal("system:serviceaccount:team-a:default", exchange.Subject);
        Assert.Equal([host.RegistryHost], exchange.Audiences);

        // One Secret with the contract's content.
        Assert.Equal(1, host.Kube.Count("secrets.create"));
        var secret = host.Kube.GetSecret("team-a", SecretName())!;
        Assert.Equal("kubernetes.io/dockerconfigjson", secret.Type);
        Assert.Equal("quay-admission", secret.Metadata.Labels["app.kubernetes.io/managed-by"]);
        Assert.Equal("acme+puller", secret.Metadata.Annotations["quay-admission.io/robot-account"]);
        Assert.Equal(host.RegistryHost, secret.Metadata.Annotations["quay-admission.io/registry"]);
        Assert.Equal("default", secret.Metadata.Annotations["quay-admission.io/service-account"]);
        Assert.Equal(
            host.Time.GetUtcNow().AddHours(1).ToUnixTimeSeconds(),
            DateTimeOffset.Parse(secret.Metadata.Annotations["quay-admission.io/expires-at"], System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeSeconds());
        using (var config = JsonDocument.Parse(secret.Data[".dockerconfigjson"]))
        {
            var auth = config.RootElement.GetProperty("auths").GetProperty(host.RegistryHost);
            Assert.Equal("acme+puller", auth.GetProperty("username").GetString());
            Assert.Equal(exchange.IssuedToken, auth.GetProperty("password").GetString());
            Assert.Equal($"acme+puller:{exchange.IssuedToken}", Encoding.UTF8.GetString(Convert.FromBase64String(auth.GetProperty("auth").GetString()!)));
        }

        // The patch applied to the original pod gives the pod plus the name, nothing else.
        var patched = result.Apply(pod);
        Assert.Equal([SecretName()], PullSecrets(patched));
        patched["spec"]!.AsObject().Remove("imagePullSecrets");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(pod), InjectedLabel.Strip(patched, JsonNode.Parse(pod)!)));
    }

    [Fact]
    public async Task Pod_with_other_pull_secrets_keeps_them()
    {
        var pod = Pods.Json(pullSecrets: ["registry-mirror"]);
        var result = await host.AdmitAsync(pod);
        Assert.Equal(["registry-mirror", SecretName()], PullSecrets(result.Apply(pod)));
        Assert.Equal(["add", "add"], JsonPatchApplier.Ops(result.Patch));
    }

    [Fact]
    public async Task Pod_that_already_lists_the_name_gets_only_the_label_then_no_patch()
    {
        var pod = Pods.Json(pullSecrets: [SecretName()]);
        var result = await host.AdmitAsync(pod);
        Assert.True(result.Allowed);
        var labelled = result.Apply(pod);
        Assert.Equal([SecretName()], PullSecrets(labelled));
        Assert.Equal("true", labelled["metadata"]!["labels"]!["quay-admission.io/injected"]!.GetValue<string>());

        var again = await host.AdmitAsync(labelled.ToJsonString());
        Assert.True(again.Allowed);
        Assert.False(again.HasPatch);
    }

    [Fact]
    public async Task Pod_with_generate_name_only_is_patched()
    {
        var pod = Pods.Json(name: null, generateName: "web-");
        var result = await host.AdmitAsync(pod);
        Assert.Equal([SecretName()], PullSecrets(result.Apply(pod)));
        Assert.Contains(host.LogLines(), l => l.Contains("team-a/web-*", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Fields_the_model_does_not_know_are_untouched()
    {
        var result = await host.AdmitAsync(Pods.WithUnknownFields);
        var patched = result.Apply(Pods.WithUnknownFields);
        Assert.Equal([SecretName()], PullSecrets(patched));
        patched["spec"]!.AsObject().Remove("imagePullSecrets");
        var original = JsonNode.Parse(Pods.WithUnknownFields)!;
        Assert.True(JsonNode.DeepEquals(original, InjectedLabel.Strip(patched, original)));
    }

    [Fact]
    public async Task The_pods_own_service_account_is_used()
    {
        host.Trust("acme+puller", serviceAccount: "builder");
        var pod = Pods.Json(serviceAccount: "builder");
        var result = await host.AdmitAsync(pod);

        Assert.Equal("system:serviceaccount:team-a:builder", Assert.Single(host.Quay.Exchanges).Subject);
        Assert.Equal([SecretName(serviceAccount: "builder")], PullSecrets(result.Apply(pod)));
        Assert.NotEqual(SecretName(), SecretName(serviceAccount: "builder"));
    }

    [Fact]
    public async Task Several_robots_get_one_secret_each()
    {
        host.Trust("acme+other");
        var pod = Pods.Json(robotAccount: $"acme+puller, {host.RegistryHost}/acme+other");
        var result = await host.AdmitAsync(pod);
        Assert.Equal([SecretName(), SecretName("acme+other")], PullSecrets(result.Apply(pod)));
        Assert.Equal(2, host.Quay.ExchangeCount);
    }

    public static TheoryData<string, string> Untouched => new()
    {
        { "opted out", Reviews.Create(Pods.Json(annotations: new Dictionary<string, string> { ["quay-admission.io/inject"] = "false" })) },
        { "mirror pod", Reviews.Create(Pods.Json(annotations: new Dictionary<string, string> { ["kubernetes.io/config.mirror"] = "abc" })) },
        { "update", Reviews.Create(Pods.Json(), operation: "UPDATE") },
        { "not a pod", Reviews.Create("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"team-a","annotations":{"quay-admission.io/robot-account":"acme+puller"}}}""", kind: "ConfigMap") },
    };

    [Theory]
    [MemberData(nameof(Untouched))]
    public async Task Other_reviews_are_allowed_unchanged_without_calls(string why, string review)
    {
        var result = await host.PostAsync(review);
        Assert.True(result.Allowed, why);
        Assert.False(result.HasPatch, why);
        Assert.NotNull(result.Uid);
        Assert.Equal(0, host.Kube.TotalCount);
        Assert.Equal(0, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task Pod_without_annotation_is_allowed_unchanged_after_reading_its_scopes_once()
    {
        var result = await host.AdmitAsync(Pods.Json(robotAccount: null));
        Assert.True(result.Allowed);
        Assert.False(result.HasPatch);
        Assert.Equal(1, host.Kube.Count("serviceaccounts.get"));
        Assert.Equal(1, host.Kube.Count("namespaces.get"));
        Assert.Equal(2, host.Kube.TotalCount);

        await host.AdmitAsync(Pods.Json(robotAccount: null, name: "web-1"));
        Assert.Equal(2, host.Kube.TotalCount);
        Assert.Equal(0, host.Quay.ExchangeCount);
    }

    /// <summary>Calls that change something or cost a token: none may happen for reviews we refuse or dry-run.</summary>
    private int SideEffectCalls() =>
        host.Kube.Requests.Count(r => r.Operation is not ("serviceaccounts.get" or "namespaces.get")) + host.Quay.ExchangeCount;

    [Fact]
    public async Task Bad_robot_name_is_denied_with_the_entry()
    {
        var result = await host.AdmitAsync(Pods.Json(robotAccount: "acme+puller,Not+Valid"));
        Assert.False(result.Allowed);
        Assert.Equal(400, result.Code);
        Assert.Contains("Not+Valid", result.Message, StringComparison.Ordinal);
        Assert.Equal(0, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task Host_outside_the_registries_is_forbidden()
    {
        var result = await host.AdmitAsync(Pods.Json(robotAccount: "evil.example.org/acme+puller"));
        Assert.False(result.Allowed);
        Assert.Equal(403, result.Code);
        Assert.Contains(host.RegistryHost, result.Message, StringComparison.Ordinal);
        Assert.Equal(0, SideEffectCalls());
    }

    [Fact]
    public async Task Concurrent_admissions_for_one_key_share_one_exchange()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => host.AdmitAsync(Pods.Json(name: null, generateName: "web-"))));

        Assert.All(results, r => Assert.True(r.Allowed && r.HasPatch && r.Warnings.Count == 0));
        Assert.Equal(1, host.Quay.ExchangeCount);
        Assert.Equal(1, host.Kube.Count("tokenrequest"));
        Assert.Equal(1, host.Kube.Count("secrets.create") + host.Kube.Count("secrets.patch"));
    }

    [Fact]
    public async Task Twenty_keys_get_twenty_exchanges()
    {
        var accounts = Enumerable.Range(0, 20).Select(i => $"sa-{i}").ToList();
        accounts.ForEach(sa => host.Trust("acme+puller", serviceAccount: sa));

        var results = await Task.WhenAll(accounts.SelectMany(sa => Enumerable.Range(0, 10).Select(_ =>
            host.AdmitAsync(Pods.Json(name: null, generateName: "job-", serviceAccount: sa)))));

        Assert.All(results, r => Assert.Empty(r.Warnings));
        Assert.Equal(20, host.Quay.ExchangeCount);
        Assert.Equal(20, host.Kube.Count("secrets.create"));
        Assert.Equal(20, host.Kube.Secrets.Count);
    }

    [Fact]
    public async Task Warm_path_makes_no_call()
    {
        await host.AdmitAsync(Pods.Json());
        host.Kube.ResetCounts();
        host.Quay.ResetCounts();
        host.Time.Advance(TimeSpan.FromSeconds(20)); // within the token's life and the scope cache's TTL

        var result = await host.AdmitAsync(Pods.Json(name: "web-1"));

        Assert.True(result.HasPatch);
        Assert.Equal(0, host.Kube.TotalCount);
        Assert.Equal(0, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task Later_in_the_tokens_life_only_the_scopes_are_reread_in_the_background()
    {
        await host.AdmitAsync(Pods.Json());
        host.Kube.ResetCounts();
        host.Time.Advance(TimeSpan.FromMinutes(30));

        var result = await host.AdmitAsync(Pods.Json(name: "web-1"));

        Assert.True(result.HasPatch);
        Assert.Equal(1, host.Quay.ExchangeCount);
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Count("serviceaccounts.get") == 1 && host.Kube.Count("namespaces.get") == 1));
        Assert.Equal(2, host.Kube.TotalCount);
    }

    [Fact]
    public async Task Token_near_expiry_is_renewed_in_place()
    {
        await host.AdmitAsync(Pods.Json());
        var before = host.Kube.GetSecret("team-a", SecretName())!;

        host.Time.Advance(TimeSpan.FromMinutes(55)); // 5 minutes left: under MinRemaining
        var result = await host.AdmitAsync(Pods.Json(name: "web-1"));

        var after = host.Kube.GetSecret("team-a", SecretName())!;
        Assert.Empty(result.Warnings);
        Assert.Equal(2, host.Quay.ExchangeCount);
        Assert.Equal(1, host.Kube.Count("secrets.create"));
        Assert.Equal(1, host.Kube.Count("secrets.patch"));
        Assert.Equal(before.Metadata.Uid, after.Metadata.Uid);
        Assert.NotEqual(before.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
        Assert.True(PullSecretManifest.ExpiresAt(after) > PullSecretManifest.ExpiresAt(before));
    }

    [Fact]
    public async Task A_token_another_replica_wrote_is_reused_from_the_watch()
    {
        var key = new PullSecretKey("team-a", "default", host.RegistryHost, "acme+puller");
        host.Kube.PutSecret(PullSecretManifest.Build(key, new QuayAdmission.Quay.QuayToken("other-replica", host.Time.GetUtcNow().AddMinutes(50))));
        var cache = host.Factory.Services.GetRequiredService<ManagedSecretCache>();
        Assert.True(await Eventually.TrueAsync(() => cache.Get("team-a", key.SecretName) is not null), "the watch never brought the Secret");
        host.Kube.ResetCounts();

        var result = await host.AdmitAsync(Pods.Json());

        Assert.True(result.HasPatch);
        Assert.Empty(result.Warnings);
        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.Equal(0, host.Kube.Count("secrets.get") + host.Kube.Count("secrets.create") + host.Kube.Count("secrets.patch") + host.Kube.Count("tokenrequest"));
    }

    [Fact]
    public async Task Losing_a_create_race_uses_the_winners_token()
    {
        // The Secret appears between our read (404 here) and our create: the create conflicts, we re-read and use it.
        // The watch is held up, so this replica's cache has not seen the winner either.
        host.Kube.SetFault("secrets.watch", Fault.Hang);
        host.Kube.CloseWatches();
        var key = new PullSecretKey("team-a", "default", host.RegistryHost, "acme+puller");
        host.Kube.PutSecret(PullSecretManifest.Build(key, new QuayAdmission.Quay.QuayToken("winner", host.Time.GetUtcNow().AddMinutes(50))));
        var winner = host.Kube.GetSecret("team-a", key.SecretName)!;
        host.Kube.SetFault("secrets.get", Fault.Status(404, "NotFound") with { Times = 1 });

        var result = await host.AdmitAsync(Pods.Json());

        Assert.True(result.HasPatch);
        Assert.Empty(result.Warnings);
        Assert.Equal(1, host.Kube.Count("secrets.create"));
        Assert.Equal(0, host.Kube.Count("secrets.patch"));
        Assert.Equal(winner.Metadata.ResourceVersion, host.Kube.GetSecret("team-a", key.SecretName)!.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Dry_run_makes_no_call_and_the_same_patch()
    {
        var pod = Pods.Json();
        var dry = await host.AdmitAsync(pod, dryRun: true);

        // Only the (cached) reads of the ServiceAccount's and Namespace's opt-out annotations.
        Assert.Equal(0, SideEffectCalls());
        Assert.Equal(0, host.Kube.Count("tokenrequest"));
        Assert.Empty(host.Kube.Secrets);

        var real = await host.AdmitAsync(pod);
        Assert.Equal(real.Patch, dry.Patch);
    }

    [Fact]
    public async Task A_still_valid_token_whose_renewal_fails_is_used()
    {
        await host.AdmitAsync(Pods.Json());
        var before = host.Kube.GetSecret("team-a", SecretName())!;
        host.Time.Advance(TimeSpan.FromMinutes(55));
        host.Quay.Behaviour = QuayBehaviour.Status(500, """{"error":"internal"}""");

        var result = await host.AdmitAsync(Pods.Json(name: "web-1"));

        Assert.True(result.HasPatch);
        Assert.Empty(result.Warnings);
        Assert.Equal(before.Metadata.ResourceVersion, host.Kube.GetSecret("team-a", SecretName())!.Metadata.ResourceVersion);
    }
}
