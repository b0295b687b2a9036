using k8s.Models;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Robots;

/// <summary>Robot accounts and opt-outs from the Pod, its ServiceAccount and its Namespace: the nearest wins.</summary>
public sealed class NearestAnnotationTests : IAsyncLifetime
{
    private WebhookHost host = null!;

    public async Task InitializeAsync()
    {
        host = await WebhookHost.StartAsync();
        host.Trust("acme+pod");
        host.Trust("acme+account", serviceAccount: "builder");
        host.Trust("acme+pod", serviceAccount: "builder");
        host.Trust("acme+namespace");
        host.Trust("acme+namespace", serviceAccount: "builder");
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    private void Account(string name, Dictionary<string, string> annotations) => host.Kube.AddServiceAccount(new V1ServiceAccount
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "team-a", Annotations = annotations },
    });

    private void Namespace(Dictionary<string, string> annotations) => host.Kube.AddNamespace(new V1Namespace
    {
        Metadata = new V1ObjectMeta { Name = "team-a", Annotations = annotations },
    });

    private static Dictionary<string, string> Robot(string robot) => new() { ["quay-admission.io/robot-account"] = robot };

    private static readonly Dictionary<string, string> OptOut = new() { ["quay-admission.io/inject"] = "false" };

    private async Task<string[]> InjectedAsync(string pod)
    {
        var result = await host.AdmitAsync(pod);
        Assert.True(result.Allowed, result.Message);
        return result.Apply(pod)["spec"]?["imagePullSecrets"]?.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToArray() ?? [];
    }

    private string Name(string robot, string serviceAccount = "default") => PullSecretKey.NameFor(serviceAccount, host.RegistryHost, robot);

    [Fact]
    public async Task ServiceAccount_annotation_applies_to_its_pods()
    {
        Account("builder", Robot("acme+account"));
        Assert.Equal([Name("acme+account", "builder")], await InjectedAsync(Pods.Json(robotAccount: null, serviceAccount: "builder")));
        Assert.Empty(await InjectedAsync(Pods.Json(robotAccount: null, name: "other")));
    }

    [Fact]
    public async Task Namespace_annotation_applies_to_every_pod_in_it()
    {
        Namespace(Robot("acme+namespace"));
        Assert.Equal([Name("acme+namespace")], await InjectedAsync(Pods.Json(robotAccount: null)));
        Assert.Equal([Name("acme+namespace", "builder")], await InjectedAsync(Pods.Json(robotAccount: null, serviceAccount: "builder")));
    }

    [Fact]
    public async Task The_nearest_robot_account_annotation_wins()
    {
        Namespace(Robot("acme+namespace"));
        Account("builder", Robot("acme+account"));
        Assert.Equal([Name("acme+pod", "builder")], await InjectedAsync(Pods.Json(robotAccount: "acme+pod", serviceAccount: "builder")));
        Assert.Equal([Name("acme+account", "builder")], await InjectedAsync(Pods.Json(robotAccount: null, serviceAccount: "builder")));
        Assert.Equal([Name("acme+namespace")], await InjectedAsync(Pods.Json(robotAccount: null)));
    }

    [Fact]
    public async Task Opt_out_on_the_pod()
    {
        Namespace(Robot("acme+namespace"));
        Assert.Empty(await InjectedAsync(Pods.Json(robotAccount: null, annotations: OptOut)));
    }

    [Fact]
    public async Task Opt_out_on_the_service_account_covers_its_pods_and_the_pod_can_opt_back_in()
    {
        Account("builder", OptOut);
        Namespace(Robot("acme+namespace"));
        Assert.Empty(await InjectedAsync(Pods.Json(robotAccount: "acme+pod", serviceAccount: "builder")));
        Assert.Equal(
            [Name("acme+pod", "builder")],
            await InjectedAsync(Pods.Json(robotAccount: "acme+pod", serviceAccount: "builder", annotations: new Dictionary<string, string> { ["quay-admission.io/inject"] = "true" })));
    }

    [Fact]
    public async Task Opt_out_on_the_namespace_loses_to_a_nearer_opt_in()
    {
        Namespace(new Dictionary<string, string>(OptOut) { ["quay-admission.io/robot-account"] = "acme+namespace" });
        Assert.Empty(await InjectedAsync(Pods.Json(robotAccount: "acme+pod")));
        Account("builder", new Dictionary<string, string> { ["quay-admission.io/inject"] = "true" });
        Assert.Equal([Name("acme+namespace", "builder")], await InjectedAsync(Pods.Json(robotAccount: null, serviceAccount: "builder")));
    }

    [Fact]
    public async Task A_bad_inherited_annotation_is_denied_naming_where_it_came_from()
    {
        Account("builder", Robot("Not+Valid"));
        var result = await host.AdmitAsync(Pods.Json(robotAccount: null, serviceAccount: "builder"));
        Assert.False(result.Allowed);
        Assert.StartsWith("ServiceAccount team-a/builder: ", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Warm_path_with_inherited_annotations_makes_no_call()
    {
        Account("builder", Robot("acme+account"));
        Namespace(Robot("acme+namespace"));
        await InjectedAsync(Pods.Json(robotAccount: null, serviceAccount: "builder"));
        host.Kube.ResetCounts();
        host.Quay.ResetCounts();

        Assert.Equal([Name("acme+account", "builder")], await InjectedAsync(Pods.Json(robotAccount: null, serviceAccount: "builder", name: "web-1")));

        Assert.Equal(0, host.Kube.TotalCount);
        Assert.Equal(0, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task A_ServiceAccount_or_Namespace_that_cannot_be_read_counts_as_unannotated()
    {
        host.Kube.SetFault("serviceaccounts.get", QuayAdmission.Tests.Fakes.Fault.Status(500));
        Namespace(Robot("acme+namespace"));
        Assert.Equal([Name("acme+namespace")], await InjectedAsync(Pods.Json(robotAccount: null)));
    }
}
