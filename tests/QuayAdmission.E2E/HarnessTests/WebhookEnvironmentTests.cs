using System.Text;
using System.Text.Json.Nodes;
using k8s;
using QuayAdmission.E2E.Harness;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>
/// The environment a group gives its processes (the manifests' ConfigMap, this run's timings, identity,
/// exclusions) starts the native webhook: its options validate, it mints for a Pod of its namespaces
/// (registry quay.local, federation on another host) and leaves another group's alone, and it takes and
/// releases its Lease. Against the Kubernetes stand-in, so a bad setting shows here rather than on the real cluster.
/// </summary>
public sealed class WebhookEnvironmentTests : IAsyncLifetime
{
    private readonly string work = Directory.CreateTempSubdirectory("e2e-webhook-env-").FullName;
    private FakeKubernetesApi kube = null!;
    private FakeQuay quay = null!;

    public async Task InitializeAsync()
    {
        kube = await FakeKubernetesApi.StartAsync(TimeProvider.System);
        quay = await FakeQuay.StartAsync(TimeProvider.System, https: true);
    }

    public async Task DisposeAsync()
    {
        await quay.DisposeAsync();
        await kube.DisposeAsync();
        Directory.Delete(work, recursive: true);
    }

    [NativeFact]
    public async Task The_group_environment_starts_the_native_webhook_which_mints_in_its_namespaces_only_and_leads_and_releases_its_lease()
    {
        var manifests = await E2EManifests.RenderAsync(E2ESettings.RegistryHost);
        var common = new WebhookBase(NativeFactAttribute.Executable(), manifests.ConfigMapData, quay.BaseAddress,
            quay.WriteCaFile(Path.Combine(work, "quay-ca.crt")), DevCertificates.Write(work), Path.Combine(work, "logs"));
        var kubeconfig = kube.WriteKubeconfig(Path.Combine(work, "kubeconfig"));
        await using var group = new WebhookGroup(new GroupSpec("main", "quay-admission-refresher-main", [E2ENamespaces.Admission]), common, kubeconfig);
        // The harness's own client, as on the real cluster (the stand-in's test API speaks the Aot client's types).
        using var api = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));

        var replica = await group.StartReplicaAsync("main-0");
        Assert.Same(replica, await group.LeaderAsync(api, TimeSpan.FromSeconds(30)));
        Assert.Equal((int)E2ESettings.LeaseDuration.TotalSeconds, kube.GetLease(E2ESettings.LeaseNamespace, group.LeaseName)!.Spec.LeaseDurationSeconds);

        // A review as the API server sends it: the registry quay.local, minted through a federation URL on another host.
        quay.TrustSubject("acme+puller", kube.Issuer, "system:serviceaccount:e2e-admission:builder");
        quay.ExpectedAudience = E2ESettings.RegistryHost;
        using var client = common.Serving.Client(replica.Process.HttpsPort);
        var patched = await AdmitAsync(client, E2EPods.Json(E2ENamespaces.Admission, "web-0", "builder", "acme+puller"));
        var secretName = SecretNames.For(E2ESettings.RegistryHost, "acme+puller", "builder");
        Assert.Contains(secretName, Encoding.UTF8.GetString(Convert.FromBase64String(patched["patch"]!.GetValue<string>())), StringComparison.Ordinal);
        // On a loaded machine the first mint may outlast InlineBudget: the token then lands in the Secret just after.
        var secret = await Poll.UntilAsync("the Secret holds a token", TimeSpan.FromSeconds(30), async () =>
        {
            try
            {
                var view = PullSecretView.Of(await api.CoreV1.ReadNamespacedSecretAsync(secretName, E2ENamespaces.Admission), E2ESettings.RegistryHost);
                return (view.HasToken, view);
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                return (false, null!);
            }
        });
        Assert.True(secret.HasToken && secret.Username == "acme+puller", secret.ToString());
        Assert.Equal(1, quay.ExchangeCount);
        // Another group's namespace is excluded: admitted unchanged, nothing minted.
        var excluded = await AdmitAsync(client, E2EPods.Json(E2ENamespaces.Cut, "web-0", "builder", "acme+puller"));
        Assert.Null(excluded["patch"]);
        Assert.Equal(1, quay.ExchangeCount);

        Assert.Equal(0, await replica.TerminateAsync());
        Assert.Null(kube.GetLease(E2ESettings.LeaseNamespace, group.LeaseName)!.Spec.HolderIdentity);
        Assert.Contains(replica.Lines, line => line.Contains("main-0 released the lease quay-admission-refresher-main", StringComparison.Ordinal));
        Assert.DoesNotContain(replica.Lines, line => line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal));
    }

    private static async Task<JsonNode> AdmitAsync(HttpClient client, string pod)
    {
        using var content = new StringContent(Reviews.Create(pod, Guid.NewGuid().ToString()), Encoding.UTF8, "application/json");
        using var answer = await client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
        var body = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!["response"]!;
    }
}
