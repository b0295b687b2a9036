using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using QuayAdmission.E2E.Harness;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>The objects the scenarios write and the way they read what the cluster and the registry answer.</summary>
public sealed class ClusterObjectsTests
{
    [Fact]
    public void Secret_names_follow_design_md()
    {
        // printf '%s' 'quay.local/acme+puller@builder' | sha256sum | cut -c1-10
        Assert.Equal("quay-acme-puller-6a3b0015a2", SecretNames.For("quay.local", "acme+puller", "builder"));
        var long_ = SecretNames.For("quay.local", new string('a', 100) + "+b", "builder");
        Assert.Equal(63, long_.Length);
    }

    [Fact]
    public void A_pod_on_the_node_runs_there_without_a_scheduler_cni_or_ready_node_and_pulls_every_start()
    {
        var pod = KubernetesYaml.Deserialize<V1Pod>(E2EPods.Json("e2e-node", "loop", "loop", "acme+loop", onNode: true, command: ["sh", "-c", "sleep 30; exit 1"]), strict: true);

        Assert.Equal(RealNode.Name, pod.Spec.NodeName);
        Assert.True(pod.Spec.HostNetwork);
        Assert.Contains(pod.Spec.Tolerations, t => t.Key == "node.kubernetes.io/not-ready" && t.OperatorProperty == "Exists" && t.Effect is null);
        Assert.Equal("acme+loop", pod.Metadata.Annotations[E2EPods.RobotAnnotation]);
        var container = Assert.Single(pod.Spec.Containers);
        Assert.Equal(("quay.local/acme/app:1", "Always"), (container.Image, container.ImagePullPolicy));
        Assert.Equal("Always", pod.Spec.RestartPolicy);
        Assert.Null(pod.Spec.ImagePullSecrets);

        var pending = KubernetesYaml.Deserialize<V1Pod>(E2EPods.Json("e2e-admission", "web", "builder", "acme+puller", pullSecrets: ["team-registry"]), strict: true);
        Assert.Null(pending.Spec.NodeName);
        Assert.Equal("team-registry", Assert.Single(pending.Spec.ImagePullSecrets).Name);
    }

    [Fact]
    public void A_pull_secret_view_reads_the_token_and_never_shows_it()
    {
        const string token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhY21lK3B1bGxlciJ9.c2lnbmF0dXJl";
        var config = new JsonObject { ["auths"] = new JsonObject { ["quay.local"] = new JsonObject { ["username"] = "acme+puller", ["password"] = token } } };
        var secret = new V1Secret
        {
            Metadata = new V1ObjectMeta
            {
                Uid = "u-1",
                ResourceVersion = "42",
                Labels = new Dictionary<string, string> { ["app.kubernetes.io/managed-by"] = "quay-admission" },
                Annotations = new Dictionary<string, string> { ["quay-admission.io/expires-at"] = "2030-01-01T00:00:00Z" },
            },
            Type = "kubernetes.io/dockerconfigjson",
            Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = Encoding.UTF8.GetBytes(config.ToJsonString()) },
        };

        var view = PullSecretView.Of(secret, "quay.local");
        var placeholder = PullSecretView.Of(new V1Secret { Metadata = new V1ObjectMeta { Uid = "u-2" }, Type = "kubernetes.io/dockerconfigjson", Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = "{\"auths\":{}}"u8.ToArray() } }, "quay.local");

        Assert.True(view.HasToken);
        Assert.Equal(("acme+puller", token, "quay-admission"), (view.Username, view.Token, view.ManagedBy));
        Assert.DoesNotContain(token, view.ToString(), StringComparison.Ordinal);
        Assert.False(placeholder.HasToken);
        Assert.Contains("(placeholder)", placeholder.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_registry_log_reads_as_registry_proxy_py_writes_it()
    {
        // registry_proxy.py: log.append({"at": time.time(), "path": ..., "robot": user, "result": why or "ok"}), json.dumps(log).
        const string body = """[{"at": 1765150000.25, "path": "/v2/acme/app/manifests/1", "robot": null, "result": "no credentials"}, {"at": 1765150000.5, "path": "/v2/acme/app/manifests/1", "robot": "acme+loop", "result": "ok"}, {"at": 1765150001.0, "path": "/v2/acme/app/manifests/1", "robot": "acme+loop", "result": "token expired"}]""";

        var requests = RegistryRequest.ParseLog(body);

        Assert.Equal(3, requests.Count);
        Assert.Null(requests[0].Robot);
        Assert.True(requests[1].Ok);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1765150000500), requests[1].At);
        Assert.Equal("token expired", requests[2].Result);
        Assert.False(requests[2].Ok);
    }

    [Fact]
    public void Each_group_acts_in_its_namespaces_only_with_the_run_s_timings_and_identity()
    {
        var work = Directory.CreateTempSubdirectory("e2e-env-").FullName;
        try
        {
            var common = new WebhookBase("/bin/true", new Dictionary<string, string>
            {
                ["QuayAdmission__Registries__0__Host"] = "quay.local",
                ["QuayAdmission__Refresher__LeaseName"] = "quay-admission-refresher",
                ["QuayAdmission__Tls__CertFile"] = "/tls/tls.crt",
                ["Logging__Console__FormatterName"] = "json",
            }, new Uri("https://127.0.0.1:41234/"), "/tmp/quay-ca.crt", DevCertificates.Write(work), work);
            var failover = new WebhookGroup(new GroupSpec("failover", null, []), common, "/tmp/webhook.kubeconfig");
            var cut = new WebhookGroup(new GroupSpec("cut", "quay-admission-refresher-cut", [E2ENamespaces.Cut]), common, "/tmp/webhook.kubeconfig");

            var environment = failover.EnvironmentFor("failover-0");
            var excluded = environment.Where(e => e.Key.StartsWith("QuayAdmission__ExcludedNamespaces__", StringComparison.Ordinal)).Select(e => e.Value);
            Assert.Equal(E2ENamespaces.All.Order(), excluded.Order());
            Assert.Equal("quay-admission-refresher", environment["QuayAdmission__Refresher__LeaseName"]);
            Assert.Equal(("failover-0", "quay-admission"), (environment["POD_NAME"], environment["POD_NAMESPACE"]));
            Assert.Equal("00:00:15", environment["QuayAdmission__Refresher__LeaseDuration"]);
            Assert.Equal("00:00:30", environment["QuayAdmission__MinRemaining"]);
            Assert.Equal("0.5", environment["QuayAdmission__RefreshFraction"]);
            Assert.Equal(common.Serving.CertFile, environment["QuayAdmission__Tls__CertFile"]);
            Assert.Equal("simple", environment["Logging__Console__FormatterName"]);

            var cutEnvironment = cut.EnvironmentFor("cut-1");
            Assert.DoesNotContain(E2ENamespaces.Cut, cutEnvironment.Values);
            Assert.Equal("quay-admission-refresher-cut", cutEnvironment["QuayAdmission__Refresher__LeaseName"]);
            Assert.Equal(TimeSpan.FromSeconds(2), TimeSpan.Parse(cutEnvironment["QuayAdmission__Refresher__RetryPeriod"], System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
