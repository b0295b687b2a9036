using k8s;
using QuayAdmission.Demo;
using QuayAdmission.E2E.Harness;
using QuayAdmission.NativeSmoke;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>
/// The environment a group gives its processes (the manifests' ConfigMap, this run's timings, identity,
/// exclusions) starts the native webhook: its options validate, it serves, and it takes and releases its
/// Lease. Against the Kubernetes stand-in, so a bad setting shows here rather than on the real cluster.
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
    public async Task The_group_environment_starts_the_native_webhook_which_leads_and_releases_its_lease()
    {
        var manifests = await E2EManifests.RenderAsync(E2ESettings.RegistryHost);
        var common = new WebhookBase(NativeFactAttribute.Executable(), manifests.ConfigMapData, quay.BaseAddress,
            quay.WriteCaFile(Path.Combine(work, "quay-ca.crt")), DevCertificates.Write(work), Path.Combine(work, "logs"));
        await using var group = new WebhookGroup(new GroupSpec("main", "quay-admission-refresher-main", [E2ENamespaces.Admission]), common,
            kube.WriteKubeconfig(Path.Combine(work, "kubeconfig")));
        using var api = new Kubernetes(kube.ClientConfiguration());

        var replica = await group.StartReplicaAsync("main-0");
        Assert.Same(replica, await group.LeaderAsync(api, TimeSpan.FromSeconds(30)));
        Assert.Equal((int)E2ESettings.LeaseDuration.TotalSeconds, kube.GetLease(E2ESettings.LeaseNamespace, group.LeaseName)!.Spec.LeaseDurationSeconds);

        Assert.Equal(0, await replica.TerminateAsync());
        Assert.Null(kube.GetLease(E2ESettings.LeaseNamespace, group.LeaseName)!.Spec.HolderIdentity);
        Assert.Contains(replica.Lines, line => line.Contains("main-0 released the lease quay-admission-refresher-main", StringComparison.Ordinal));
        Assert.DoesNotContain(replica.Lines, line => line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal));
    }
}
