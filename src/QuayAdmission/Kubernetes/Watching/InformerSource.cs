using System.Text.Json;
using k8s;
using k8s.Models;

namespace QuayAdmission.Kubernetes.Watching;

/// <summary>One page of a list: the items, the list's resourceVersion and the token for the next page.</summary>
public sealed record ListPage<T>(IList<T> Items, string ResourceVersion, string? Continue);

/// <summary>
/// What an informer lists and watches: a resource (cluster-wide), a label selector, the typed
/// paged list call and how to decode one object of a watch event.
/// </summary>
public sealed record InformerSource<T>(
    string Resource,
    string ListPath,
    string? LabelSelector,
    Func<KubernetesApi, string? /* continue */, int /* limit */, CancellationToken, Task<ListPage<T>>> List,
    Func<string, T> Decode)
    where T : IKubernetesObject<V1ObjectMeta>;

/// <summary>The resources our informers watch.</summary>
public static class InformerSources
{
    public static InformerSource<V1Secret> Secrets(string labelSelector) => new(
        "secrets",
        "api/v1/secrets",
        labelSelector,
        async (api, next, limit, ct) =>
        {
            var list = await api.ListSecretsAsync(labelSelector, limit, next, ct);
            return new ListPage<V1Secret>(list.Items, list.Metadata.ResourceVersion, list.Metadata.ContinueProperty);
        },
        json => JsonSerializer.Deserialize(json, KubernetesJsonContext.Default.V1Secret)!);

    public static InformerSource<PodView> Pods(string labelSelector) => new(
        "pods",
        "api/v1/pods",
        labelSelector,
        async (api, next, limit, ct) =>
        {
            var list = await api.ListPodsAsync(ns: null, labelSelector, limit, next, ct);
            return new ListPage<PodView>(list.Items, list.Metadata.ResourceVersion, list.Metadata.ContinueProperty);
        },
        json => JsonSerializer.Deserialize(json, KubernetesJsonContext.Default.PodView)!);
}
