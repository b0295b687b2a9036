using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Hardening;
using QuayAdmission.Tests.Support;
using static QuayAdmission.Tests.Refresh.RefresherTests;

namespace QuayAdmission.Tests.Refresh;

/// <summary>
/// The refresher as a controller: desired state from the injected Pods, actual state from the
/// watched Secrets, and a trust boundary around what tenants wrote. Outcomes are read from the API.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class ReconcileTests
{
    private static string SecretName(WebhookHost host) => PullSecretKey.NameFor("default", host.RegistryHost, "acme+puller");

    /// <summary>Admits the Pod and creates what the API server would: the patched Pod, running.</summary>
    internal static async Task<AdmissionResult> AdmitAndRunAsync(WebhookHost host, string podJson)
    {
        var result = await host.AdmitAsync(podJson);
        var pod = KubernetesJson.Deserialize<V1Pod>(result.Apply(podJson).ToJsonString());
        pod.Status = new V1PodStatus { Phase = "Running" };
        host.Kube.AddPod(pod);
        return result;
    }

    [Fact]
    public async Task A_tenant_secret_naming_another_namespace_gets_no_token_only_a_warning()
    {
        await using var host = await LeadingAsync();
        host.Trust("victim+puller", ns: "victim", serviceAccount: "builder");
        var forged = PullSecretManifest.Build(new PullSecretKey("team-a", "default", host.RegistryHost, "victim+puller"), token: null);
        forged.Metadata.Annotations[WellKnown.ServiceAccountAnnotation] = "../../victim/serviceaccounts/builder";
        await PutWatchedAsync(host, forged);

        await NextPassAsync(host);
        await NextPassAsync(host, TimeSpan.FromMinutes(20));

        Assert.Equal(0, host.Kube.Count("tokenrequest"));
        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.Null(PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", forged.Metadata.Name)!));
        Assert.Contains(host.LogLines(), line => line.Contains($"team-a/{forged.Metadata.Name}", StringComparison.Ordinal) && line.Contains("not refreshed", StringComparison.Ordinal));
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Events.Any(e =>
            e.Type == "Warning" && e.Reason == "InvalidManagedSecret" && e.InvolvedObject.Name == forged.Metadata.Name && e.Metadata.NamespaceProperty == "team-a")));
    }

    [Theory]
    [InlineData("registry", "quay.evil.example", "configured registry")]
    [InlineData("robot", "victim+puller,acme+puller", "robot name")]
    [InlineData("service-account", "Builder", "ServiceAccount name")]
    [InlineData("name", "builder", "name is not the one")]
    public async Task Every_claim_of_a_managed_secret_passes_the_admission_rules(string claim, string value, string refusal)
    {
        await using var host = await LeadingAsync();
        host.Trust("acme+puller", serviceAccount: "builder");
        var secret = PullSecretManifest.Build(new PullSecretKey("team-a", "default", host.RegistryHost, "acme+puller"), token: null);
        secret.Metadata.Annotations[$"quay-admission.io/{(claim == "name" ? "service-account" : claim == "robot" ? "robot-account" : claim)}"] = value;
        await PutWatchedAsync(host, secret);

        await NextPassAsync(host);

        Assert.Equal(0, host.Kube.Count("tokenrequest"));
        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.True(host.LogLines().Any(line => line.Contains(secret.Metadata.Name, StringComparison.Ordinal) && line.Contains(refusal, StringComparison.Ordinal)), string.Join("\n", host.LogLines()));
    }

    [Fact]
    public async Task Allowed_robots_are_checked_again_for_a_managed_secret()
    {
        await using var host = await LeadingAsync(new()
        {
            ["QuayAdmission:AllowedRobots:0:Namespaces"] = "team-b",
            ["QuayAdmission:AllowedRobots:0:Robots:0"] = "acme+puller",
        });
        host.Trust("acme+puller");
        await PutWatchedAsync(host, PullSecretManifest.Build(new PullSecretKey("team-a", "default", host.RegistryHost, "acme+puller"), token: null));

        await NextPassAsync(host);

        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.Contains(host.LogLines(), line => line.Contains("AllowedRobots", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_deleted_secret_is_a_miss_at_once_and_is_recreated_from_the_pods_side()
    {
        await using var host = await LeadingAsync();
        host.Trust("acme+puller");
        await AdmitAndRunAsync(host, Pods.Json());
        var name = SecretName(host);
        var first = host.Kube.GetSecret("team-a", name)!;
        var cache = host.Factory.Services.GetRequiredService<ManagedSecretCache>();
        Assert.True(await Eventually.TrueAsync(() => cache.Get("team-a", name) is not null));

        host.Kube.DeleteSecret("team-a", name); // as `kubectl delete secrets -l app.kubernetes.io/managed-by=quay-admission`

        Assert.True(await Eventually.TrueAsync(() => host.Kube.GetSecret("team-a", name) is { } again && again.Metadata.Uid != first.Metadata.Uid),
            "the refresher did not re-create the Secret the Pod lists");
        var recreated = host.Kube.GetSecret("team-a", name)!;
        Assert.NotNull(PullSecretManifest.ExpiresAt(recreated));
        Assert.Equal(2, host.Quay.ExchangeCount);
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Events.Any(e => e.Reason == "SecretRecreated" && e.InvolvedObject.Name == name)));
    }

    [Fact]
    public async Task The_next_admission_after_a_delete_misses_the_cache()
    {
        await using var host = await WebhookHost.StartAsync(); // no refresher: only admission's view of the cache
        host.Trust("acme+puller");
        await host.AdmitAsync(Pods.Json());
        var name = SecretName(host);
        var cache = host.Factory.Services.GetRequiredService<ManagedSecretCache>();
        Assert.True(await Eventually.TrueAsync(() => cache.Get("team-a", name) is not null));

        host.Kube.DeleteSecret("team-a", name);
        Assert.True(await Eventually.TrueAsync(() => cache.Get("team-a", name) is null), "the watch never brought the delete");
        host.Kube.ResetCounts();
        await host.AdmitAsync(Pods.Json(name: "web-1"));

        Assert.Equal(1, host.Kube.Count("secrets.get"));
        Assert.Equal(1, host.Kube.Count("secrets.create"));
        Assert.NotNull(host.Kube.GetSecret("team-a", name));
    }

    public static TheoryData<string, Fault> FirstWriteFaults => new()
    {
        { "secrets.get", Fault.Status(500) },
        { "secrets.create", Fault.Status(500) },
        { "secrets.create", Fault.Status(429) },
        { "secrets.create", Fault.Status(403, "Forbidden") },
        { "secrets.create", Fault.Reset },
        { "secrets.create", Fault.Delay(DependencyFaults.ApiTimeout * 3) }, // the client gives up: TaskCanceledException
    };

    [Theory]
    [MemberData(nameof(FirstWriteFaults))]
    public async Task A_pod_admitted_while_the_first_write_fails_gets_its_secret_once_the_api_recovers(string operation, Fault fault)
    {
        await using var host = await LeadingAsync(services: DependencyFaults.WithApiTimeout);
        host.Trust("acme+puller");
        host.Kube.SetFault(operation, fault);

        var admitting = AdmitAndRunAsync(host, Pods.Json());
        Assert.True(await Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromMilliseconds(500)); // the inline budget runs on the test's clock
            return admitting.IsCompleted;
        }), "admission did not answer within its budget");
        Assert.True((await admitting).Allowed);
        var name = SecretName(host);
        Assert.NotNull(host.Kube.GetPod("team-a", "web-0")!.Spec.ImagePullSecrets.SingleOrDefault(r => r.Name == name));

        host.Kube.ClearFaults();
        Assert.True(await Eventually.TrueAsync(() =>
        {
            host.Time.Advance(TimeSpan.FromSeconds(15)); // past the queue's backoff after the failed attempts
            return host.Kube.GetSecret("team-a", name) is { } secret && PullSecretManifest.ExpiresAt(secret) is not null;
        }, TimeSpan.FromSeconds(20)), "the Secret the Pod lists was never created");
    }

    [Fact]
    public async Task A_pod_admitted_by_a_replica_that_stopped_mid_provision_gets_its_secret_from_the_leader()
    {
        await using var shared = await SharedStandIns.StartAsync();
        await using var leader = await WebhookHost.StartAsync(RefresherOn("leader"), shared: shared);
        Assert.True(await Eventually.TrueAsync(() => RefresherOf(leader).Resyncs > 0));
        var other = await WebhookHost.StartAsync(shared: shared); // refresher off: a replica that only admits
        shared.Quay.TrustSubject("acme+puller", shared.Kube.Issuer, "system:serviceaccount:team-a:default");
        shared.Kube.SetFault("tokenrequest", Fault.Hang with { Times = 1 });

        var podJson = Pods.Json();
        var admitting = other.AdmitAsync(podJson);
        Assert.True(await Eventually.TrueAsync(() =>
        {
            shared.Time.Advance(TimeSpan.FromMilliseconds(500)); // answers within the budget; the exchange is still hanging
            return admitting.IsCompleted;
        }), "admission did not answer within its budget");
        var admitted = await admitting;
        Assert.True(admitted.Allowed);
        await other.DisposeAsync(); // SIGTERM: the hanging exchange dies with the process
        var pod = KubernetesJson.Deserialize<V1Pod>(admitted.Apply(podJson).ToJsonString());
        pod.Status = new V1PodStatus { Phase = "Running" };
        shared.Kube.AddPod(pod);

        var name = PullSecretKey.NameFor("default", shared.Quay.Host, "acme+puller");
        Assert.True(await Eventually.TrueAsync(() =>
            shared.Kube.GetSecret("team-a", name) is { } secret && PullSecretManifest.ExpiresAt(secret) is not null, TimeSpan.FromSeconds(30)), "the leader never provided the Secret");
    }
}
