extern alias KubernetesFull;

using KubernetesFull::k8s.Models;

namespace QuayAdmission.Tests.Manifests;

public class DeploymentTests
{
    private static V1Deployment Deployment => InstalledManifests.Deployment;

    private static V1PodSpec Pod => Deployment.Spec.Template.Spec;

    private static V1Container Container => InstalledManifests.Container;

    private static IDictionary<string, string> PodLabels => Deployment.Spec.Template.Metadata.Labels;

    [Fact]
    public void Two_replicas_spread_across_nodes_and_roll_without_losing_one()
    {
        Assert.Equal(2, Deployment.Spec.Replicas);
        Assert.Equal(Deployment.Spec.Selector.MatchLabels, PodLabels);
        Assert.Equal("0", Deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value);
        var spread = Assert.Single(Pod.TopologySpreadConstraints);
        Assert.Equal("kubernetes.io/hostname", spread.TopologyKey);
        Assert.Equal(PodLabels, spread.LabelSelector.MatchLabels);
        var antiAffinity = Assert.Single(Pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution);
        Assert.Equal("kubernetes.io/hostname", antiAffinity.PodAffinityTerm.TopologyKey);
    }

    [Fact]
    public void Pod_and_container_run_restricted()
    {
        Assert.True(Pod.SecurityContext.RunAsNonRoot);
        Assert.Equal(1654, Pod.SecurityContext.RunAsUser);
        Assert.Equal("RuntimeDefault", Pod.SecurityContext.SeccompProfile.Type);
        var container = Container.SecurityContext;
        Assert.True(container.RunAsNonRoot);
        Assert.True(container.ReadOnlyRootFilesystem);
        Assert.False(container.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.Capabilities.Drop);
        Assert.Null(container.Capabilities.Add);
        Assert.Null(container.Privileged);
        Assert.Equal("RuntimeDefault", container.SeccompProfile.Type);
        Assert.Null(Pod.HostNetwork);
    }

    [Fact]
    public void Probes_ask_the_health_listener()
    {
        Assert.Equal(("/healthz", 8080), HttpGet(Container.LivenessProbe));
        Assert.Equal(("/readyz", 8080), HttpGet(Container.ReadinessProbe));
        Assert.Equal("8080", InstalledManifests.Config("QuayAdmission__Server__HealthPort"));
    }

    [Fact]
    public void Container_ports_match_the_configured_listeners()
    {
        Assert.Equal(InstalledManifests.Config("QuayAdmission__Server__HttpsPort"), ContainerPort("https").ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(InstalledManifests.Config("QuayAdmission__Server__HealthPort"), ContainerPort("http").ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Shutdown_waits_for_in_flight_reviews()
    {
        var preStop = TimeSpan.FromSeconds(Container.Lifecycle.PreStop.Sleep.Seconds);
        var shutdown = InstalledManifests.ConfigTimeSpan("QuayAdmission__Server__ShutdownTimeout");
        var grace = TimeSpan.FromSeconds(Pod.TerminationGracePeriodSeconds ?? 30);

        // A sleep action: the chiseled image has no shell to exec `sleep` in.
        Assert.Null(Container.Lifecycle.PreStop.Exec);
        Assert.True(preStop > TimeSpan.Zero);
        Assert.True(grace > preStop + shutdown, $"terminationGracePeriodSeconds {grace} must exceed preStop {preStop} + ShutdownTimeout {shutdown}");
    }

    [Fact]
    public void The_serving_secret_is_mounted_read_only_where_the_config_looks()
    {
        var certificate = InstalledManifests.CertManager("Certificate", "quay-admission-serving");
        var tls = Assert.Single(Pod.Volumes, v => v.Secret is not null);
        var mount = Assert.Single(Container.VolumeMounts, m => m.Name == tls.Name);

        Assert.Equal(certificate.Yaml.At("spec.secretName"), tls.Secret.SecretName);
        Assert.Equal("quay-admission-tls", tls.Secret.SecretName);
        Assert.Equal("/tls", mount.MountPath);
        Assert.True(mount.ReadOnlyProperty);
        // subPath mounts never see a renewed Secret.
        Assert.Null(mount.SubPath);
        Assert.Equal("/tls/tls.crt", InstalledManifests.Config("QuayAdmission__Tls__CertFile"));
        Assert.Equal("/tls/tls.key", InstalledManifests.Config("QuayAdmission__Tls__KeyFile"));
    }

    [Fact]
    public void Tmp_is_a_writable_empty_dir()
    {
        var mount = Assert.Single(Container.VolumeMounts, m => m.MountPath == "/tmp");
        var volume = Assert.Single(Pod.Volumes, v => v.Name == mount.Name);

        Assert.NotNull(volume.EmptyDir);
        Assert.NotEqual(true, mount.ReadOnlyProperty);
    }

    [Fact]
    public void Requests_and_limits_are_set()
    {
        foreach (var resources in new[] { Container.Resources.Requests, Container.Resources.Limits })
        {
            Assert.Contains("cpu", resources.Keys);
            Assert.Contains("memory", resources.Keys);
        }
    }

    [Fact]
    public void Configuration_comes_from_the_config_map_and_the_downward_api()
    {
        var envFrom = Assert.Single(Container.EnvFrom);
        var env = Container.Env.ToDictionary(e => e.Name, e => e.ValueFrom?.FieldRef?.FieldPath);

        Assert.Equal(InstalledManifests.ConfigMap.Metadata.Name, envFrom.ConfigMapRef.Name);
        Assert.Equal("metadata.name", env["POD_NAME"]);
        Assert.Equal("metadata.namespace", env["POD_NAMESPACE"]);
        Assert.Equal("metadata.namespace", env["QuayAdmission__Refresher__LeaseNamespace"]);
    }

    [Fact]
    public void The_config_map_holds_the_documented_settings()
    {
        string[] keys =
        [
            "QuayAdmission__Registries__0__Host", "QuayAdmission__MinRemaining", "QuayAdmission__RefreshFraction",
            "QuayAdmission__InlineBudget", "QuayAdmission__OnTokenFailure", "QuayAdmission__Tls__CertFile",
            "QuayAdmission__Tls__KeyFile", "QuayAdmission__Server__HttpsPort", "QuayAdmission__Server__HealthPort",
            "QuayAdmission__Server__ShutdownTimeout", "QuayAdmission__Refresher__LeaseName", "Logging__Console__FormatterName",
        ];

        Assert.Equal(keys.Order(), InstalledManifests.ConfigMap.Data.Keys.Order());
        Assert.Equal("quay.io", InstalledManifests.Config("QuayAdmission__Registries__0__Host"));
        Assert.Contains(InstalledManifests.Config("QuayAdmission__OnTokenFailure"), new[] { "Inject", "Deny" });
        Assert.Equal("json", InstalledManifests.Config("Logging__Console__FormatterName"));
    }

    [Fact]
    public void The_disruption_budget_keeps_one_replica_and_lets_unhealthy_ones_go()
    {
        var budget = InstalledManifests.One<V1PodDisruptionBudget>();

        Assert.Equal("1", budget.Spec.MinAvailable.Value);
        Assert.Equal("AlwaysAllow", budget.Spec.UnhealthyPodEvictionPolicy);
        Assert.Equal(PodLabels, budget.Spec.Selector.MatchLabels);
    }

    [Fact]
    public void The_service_sends_443_to_the_https_listener_and_exposes_metrics()
    {
        var service = InstalledManifests.One<V1Service>();
        var https = Assert.Single(service.Spec.Ports, p => p.Port == 443);
        var metrics = Assert.Single(service.Spec.Ports, p => p.Name == "metrics");

        Assert.Equal(PodLabels, service.Spec.Selector);
        Assert.Equal(8443, Resolve(https.TargetPort));
        Assert.Equal(8080, metrics.Port);
        Assert.Equal(8080, Resolve(metrics.TargetPort));
    }

    private static (string Path, int Port) HttpGet(V1Probe probe) => (probe.HttpGet.Path, Resolve(probe.HttpGet.Port));

    private static int ContainerPort(string name) => Assert.Single(Container.Ports, p => p.Name == name).ContainerPort;

    private static int Resolve(IntOrString port) =>
        int.TryParse(port.Value, System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : ContainerPort(port.Value);
}
