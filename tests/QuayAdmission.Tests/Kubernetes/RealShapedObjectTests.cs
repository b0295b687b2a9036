using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using QuayAdmission.Kubernetes;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Manifests;
using QuayAdmission.Tests.Refresh;
using QuayAdmission.Tests.Support;
using static QuayAdmission.Tests.Refresh.RefresherTests;

namespace QuayAdmission.Tests.Kubernetes;

/// <summary>
/// Objects exactly as a real kube-apiserver sends them (ApiResponses/, with managedFields of several
/// managers, kubectl's last-applied annotation, Pod defaults, list pages), read by the webhook's own
/// JSON context with reflection off, and the two objects it writes back, the Lease and a pull Secret,
/// read, changed and written through the stand-in that serves them.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class RealShapedObjectTests
{
    internal static string Response(string file) =>
        File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "QuayAdmission.Tests", "Kubernetes", "ApiResponses", file));

    public static TheoryData<string> Objects => ["secret.json", "secret-list-page.json", "lease.json", "serviceaccount.json", "namespace.json", "tokenrequest.json"];

    [Theory]
    [MemberData(nameof(Objects))]
    public void Each_object_is_read_and_written_again_with_its_managed_fields_as_they_came(string file)
    {
        var original = JsonNode.Parse(Response(file))!;

        var written = JsonNode.Parse(file switch
        {
            "secret.json" => RoundTrip(KubernetesJsonContext.Default.V1Secret, file),
            "secret-list-page.json" => RoundTrip(KubernetesJsonContext.Default.V1SecretList, file),
            "lease.json" => RoundTrip(KubernetesJsonContext.Default.V1Lease, file),
            "serviceaccount.json" => RoundTrip(KubernetesJsonContext.Default.V1ServiceAccount, file),
            "namespace.json" => RoundTrip(KubernetesJsonContext.Default.V1Namespace, file),
            _ => RoundTrip(KubernetesJsonContext.Default.Authenticationv1TokenRequest, file),
        })!;

        var metadataOf = (JsonNode n) => file == "secret-list-page.json" ? n["items"]![0]!["metadata"]! : n["metadata"]!;
        Assert.Equal(Managers(metadataOf(original)), Managers(metadataOf(written)));
        Assert.Equal(metadataOf(original)["uid"]?.GetValue<string>(), metadataOf(written)["uid"]?.GetValue<string>());

        // Each entry as it came: fieldsV1 to the byte, the time to the second (written with microseconds, as all times).
        static IEnumerable<(string, string, string, DateTimeOffset)> Managers(JsonNode metadata) =>
            (metadata["managedFields"]?.AsArray() ?? []).Select(m => (
                m!["manager"]!.GetValue<string>(),
                m["operation"]!.GetValue<string>(),
                m["fieldsV1"]!.ToJsonString(),
                DateTimeOffset.Parse(m["time"]!.GetValue<string>(), CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void What_the_webhook_reads_comes_out_of_real_responses()
    {
        var secret = JsonSerializer.Deserialize(Response("secret.json"), KubernetesJsonContext.Default.V1Secret)!;
        Assert.Equal(["kubectl-client-side-apply", "kubectl-label"], secret.Metadata.ManagedFields.Select(m => m.Manager));
        Assert.Equal(new DateTimeOffset(2026, 12, 8, 0, 0, 0, TimeSpan.Zero), PullSecretManifest.ExpiresAt(secret));
        Assert.Equal(new PullSecretKey("fixtures", "builder", "quay.io", "acme+puller"), PullSecretManifest.KeyOf(secret));

        var page = JsonSerializer.Deserialize(Response("secret-list-page.json"), KubernetesJsonContext.Default.V1SecretList)!;
        Assert.Equal("766", page.Metadata.ResourceVersion);
        Assert.Equal(secret.Metadata.Uid, Assert.Single(page.Items).Metadata.Uid);

        var lease = JsonSerializer.Deserialize(Response("lease.json"), KubernetesJsonContext.Default.V1Lease)!;
        Assert.Equal(new DateTime(2026, 12, 7, 23, 0, 10, DateTimeKind.Utc).AddTicks(1234560), lease.Spec.RenewTime);

        var pods = JsonSerializer.Deserialize(Response("pod-list.json"), KubernetesJsonContext.Default.PodViewList)!;
        var pod = JsonSerializer.Deserialize(Response("pod.json"), KubernetesJsonContext.Default.PodView)!;
        Assert.Contains(pods.Items, p => p.Metadata.Name == pod.Metadata.Name);
        Assert.Equal("builder", pod.Spec!.ServiceAccountName);
        Assert.Equal(["quay-acme-puller-0123456789"], pod.Spec.ImagePullSecrets!.Select(s => s.Name));

        var token = JsonSerializer.Deserialize(Response("tokenrequest.json"), KubernetesJsonContext.Default.Authenticationv1TokenRequest)!;
        Assert.StartsWith("eyJ", token.Status.Token, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_shaped_Lease_of_a_replica_that_went_away_is_taken_renewed_and_keeps_its_other_manager()
    {
        await using var election = await Election.StartAsync();
        var lease = JsonNode.Parse(Response("lease.json"))!;
        lease["metadata"]!["namespace"] = Election.Namespace;
        lease["metadata"]!["name"] = Election.LeaseName;
        lease["spec"]!["renewTime"] = election.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        election.Kube.PutJson(lease.ToJsonString());

        var candidate = await election.JoinAsync("a");
        // Its holder never renews again: once LeaseDuration has passed on this replica's clock, it is taken.
        for (var step = 0; step < 8 && election.Holder != "a"; step++)
            await election.StepAsync();
        Assert.Equal("a", election.Holder);
        Assert.Equal(4, election.Lease!.LeaseTransitions);
        var taken = election.Lease.RenewTime;

        // Renewed over several LeaseDurations (a RetryPeriod a step), never lost.
        for (var step = 0; step < 10; step++)
            await election.StepAsync();
        Assert.Equal("a", election.Holder);
        Assert.True(candidate.IsLeader);
        Assert.Equal(1, candidate.Terms);
        Assert.Equal(election.Now, election.Lease.RenewTime);
        Assert.True(election.Lease.RenewTime > taken);

        var stored = election.Kube.GetLease(Election.Namespace, Election.LeaseName)!;
        Assert.Equal(["kubectl-client-side-apply", "quay-admission"], stored.Metadata.ManagedFields.Select(m => m.Manager));
        var writes = election.Kube.Requests.Where(r => r.Operation == "leases.update").ToList();
        Assert.True(writes.Count >= 10);
        // Built afresh: nothing read (managedFields, kubectl's annotation) is echoed back.
        Assert.All(writes, w => Assert.DoesNotContain("managedFields", w.Body, StringComparison.Ordinal));
        Assert.All(writes, w => Assert.DoesNotContain("last-applied", w.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_real_shaped_Secret_is_renewed_in_place_and_keeps_what_others_wrote()
    {
        await using var host = await LeadingAsync();
        host.Trust("acme+puller", serviceAccount: "builder");
        var key = new PullSecretKey("team-a", "builder", host.RegistryHost, "acme+puller");
        var now = host.Time.GetUtcNow();
        var secret = JsonNode.Parse(Response("secret.json"))!;
        var metadata = secret["metadata"]!;
        metadata["namespace"] = key.Namespace;
        metadata["name"] = key.SecretName;
        // Written 40 minutes ago, 20 left: past half its life (no iat in the stored token, so from creation).
        metadata["creationTimestamp"] = Rfc3339(now.AddMinutes(-40));
        metadata["annotations"]!["quay-admission.io/registry"] = key.RegistryHost;
        metadata["annotations"]!["quay-admission.io/expires-at"] = Rfc3339(now.AddMinutes(20));
        secret["data"]![".dockerconfigjson"] = Convert.ToBase64String(DockerConfig.For(key.RegistryHost, key.Robot, "REDACTED"));
        await PutWatchedAsync(host, k8s.KubernetesJson.Deserialize<k8s.Models.V1Secret>(secret.ToJsonString()));
        PodUsing(host, key.SecretName, serviceAccount: "builder");

        await NextPassAsync(host);

        var renewed = host.Kube.GetSecret(key.Namespace, key.SecretName)!;
        Assert.Equal(1, host.Quay.ExchangeCount);
        Assert.Equal("7c277acb-9a90-45f3-84f6-ea1054202f02", renewed.Metadata.Uid);
        Assert.True(PullSecretManifest.ExpiresAt(renewed) > now.AddMinutes(20));
        Assert.DoesNotContain("REDACTED", Encoding.UTF8.GetString(renewed.Data[".dockerconfigjson"]), StringComparison.Ordinal);
        // What the others wrote stays: kubectl's label, its last-applied annotation, their managedFields.
        Assert.Equal("1", renewed.Metadata.Labels["extra"]);
        Assert.Contains("kubectl.kubernetes.io/last-applied-configuration", renewed.Metadata.Annotations.Keys);
        Assert.Equal(["kubectl-client-side-apply", "kubectl-label", "quay-admission"], renewed.Metadata.ManagedFields.Select(m => m.Manager));
        // The write is a merge patch of the webhook's own fields, guarded by the version it read.
        var patch = JsonNode.Parse(Assert.Single(host.Kube.Requests, r => r.Operation == "secrets.patch").Body!)!;
        Assert.Equal(["data", "metadata"], patch.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["annotations", "labels", "resourceVersion"], patch["metadata"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["app.kubernetes.io/managed-by"], patch["metadata"]!["labels"]!.AsObject().Select(p => p.Key));
    }

    private static string RoundTrip<T>(JsonTypeInfo<T> info, string file) =>
        JsonSerializer.Serialize(JsonSerializer.Deserialize(Response(file), info)!, info);

    private static string Rfc3339(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
