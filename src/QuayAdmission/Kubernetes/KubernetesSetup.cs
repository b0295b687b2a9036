using k8s;

namespace QuayAdmission.Kubernetes;

public static class KubernetesSetup
{
    // Admission is bounded by its own budget; this only stops a hung API call from pinning
    // background work (renewals, placeholders) forever.
    private static readonly TimeSpan ApiTimeout = TimeSpan.FromSeconds(15);

    /// <summary>In-cluster configuration when running in a pod, else KUBECONFIG or ~/.kube/config.</summary>
    public static IServiceCollection AddKubernetesClient(this IServiceCollection services)
    {
        services.AddSingleton(_ =>
        {
            var config = KubernetesClientConfiguration.IsInCluster()
                ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildConfigFromConfigFile(Environment.GetEnvironmentVariable("KUBECONFIG"));
            config.HttpClientTimeout = ApiTimeout;
            return config;
        });
        services.AddSingleton(sp => new KubernetesApi(sp.GetRequiredService<KubernetesClientConfiguration>()));
        services.AddSingleton<ServiceAccountTokens>();
        return services;
    }
}
