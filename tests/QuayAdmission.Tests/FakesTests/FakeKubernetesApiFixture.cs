using System.Text.Json.Nodes;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.FakesTests;

/// <summary>Per test: a fresh FakeKubernetesApi, the real KubernetesClient pointed at it, and objects to seed.</summary>
public abstract class FakeKubernetesApiFixture : IAsyncLifetime
{
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));

    protected FakeKubernetesApi Api { get; private set; } = null!;

    protected k8s.Kubernetes Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Api = await FakeKubernetesApi.StartAsync(Time);
        Client = new k8s.Kubernetes(Api.ClientConfiguration());
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Api.DisposeAsync();
    }

    /// <summary>The <c>reason</c> of the Status a failed call answered.</summary>
    protected static string? Reason(HttpOperationException e) => JsonNode.Parse(e?.Response.Content ?? "")?["reason"]?.GetValue<string>();

    protected static V1Secret Secret(string name, string ns) => new() { Metadata = new() { Name = name, NamespaceProperty = ns }, Type = "Opaque" };

    protected static IEnumerable<V1Secret> Secrets(string ns, params string[] names) => names.Select(n => Secret(n, ns));

    protected static V1Pod Pod(string name, string ns, bool injected, string node = "", string phase = "Running", string serviceAccount = "default") => new()
    {
        Metadata = new()
        {
            Name = name,
            NamespaceProperty = ns,
            Labels = injected ? new Dictionary<string, string> { ["quay-admission.io/injected"] = "true" } : null,
        },
        Spec = new V1PodSpec { NodeName = node, ServiceAccountName = serviceAccount, Containers = [new V1Container { Name = "app", Image = "quay.io/acme/app" }] },
        Status = new V1PodStatus { Phase = phase },
    };
}
