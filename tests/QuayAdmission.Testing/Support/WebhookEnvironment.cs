using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// The webhook's configuration as environment variables, as its Deployment gives it (the ConfigMap's
/// keys): what every webhook process started against the stand-ins shares, in the native smoke suite,
/// the E2E harness's own tests, <c>make demo</c> and <c>make bench</c>. <see cref="WebhookProcess"/>
/// adds the loopback address and ports.
/// </summary>
public static class WebhookEnvironment
{
    /// <summary>
    /// The Kubernetes API stand-in (through a kubeconfig written into <paramref name="work"/>), Quay as
    /// registry 0 (trusted through its CA file when it serves HTTPS, else plain HTTP allowed, which only
    /// a stand-in on loopback gets), and the serving certificate.
    /// </summary>
    public static Dictionary<string, string> ForStandIns(FakeKubernetesApi kube, FakeQuay quay, DevCertificates serving, string work)
    {
        ArgumentNullException.ThrowIfNull(kube);
        ArgumentNullException.ThrowIfNull(quay);
        ArgumentNullException.ThrowIfNull(serving);
        var environment = new Dictionary<string, string>
        {
            ["KUBECONFIG"] = kube.WriteKubeconfig(Path.Combine(work, "kubeconfig")),
            ["QuayAdmission__Registries__0__Host"] = quay.Host,
            ["QuayAdmission__Registries__0__FederationUrl"] = quay.BaseAddress.ToString(),
        };
        if (quay.IsHttps)
            environment["QuayAdmission__Registries__0__CaFile"] = quay.WriteCaFile(Path.Combine(work, "quay-ca.pem"));
        else
            environment["QuayAdmission__AllowInsecureHttp"] = "true";
        return environment.WithServing(serving);
    }

    /// <summary>The serving certificate's files.</summary>
    public static Dictionary<string, string> WithServing(this Dictionary<string, string> environment, DevCertificates serving)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(serving);
        environment["QuayAdmission__Tls__CertFile"] = serving.CertFile;
        environment["QuayAdmission__Tls__KeyFile"] = serving.KeyFile;
        return environment;
    }

    /// <summary>One readable line per event (the manifests ask for JSON), for logs a person or a test reads.</summary>
    public static Dictionary<string, string> WithReadableLogs(this Dictionary<string, string> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        environment["Logging__Console__FormatterName"] = "simple";
        environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        return environment;
    }
}
