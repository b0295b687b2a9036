using k8s;
using k8s.Models;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// Objects of one resource, keyed by (namespace, name); cluster-scoped ones use the namespace "".
/// Holds private copies so neither a test nor a handler can change stored state by keeping a reference.
/// Not thread safe: <see cref="FakeKubernetesApi"/> guards every store with one lock, which also makes
/// the global resourceVersion counter consistent across resources.
/// </summary>
internal sealed class KubeObjectStore<T>(string resource, string apiVersion, string kind, bool namespaced = true)
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Dictionary<(string Namespace, string Name), T> _items = [];

    /// <summary>As the API names it in messages, e.g. <c>secrets</c> or <c>leases.coordination.k8s.io</c>.</summary>
    public string Resource { get; } = resource;

    public string ApiVersion { get; } = apiVersion;

    public string Kind { get; } = kind;

    public bool Namespaced { get; } = namespaced;

    public T? Get(string? ns, string name) =>
        _items.TryGetValue((Key(ns), name), out var item) ? Clone(item) : null;

    /// <summary>All objects, or those of one namespace, in the API's order (namespace, then name).</summary>
    public List<T> List(string? ns = null) =>
        [.. _items
            .Where(kv => ns is null || kv.Key.Namespace == ns)
            .OrderBy(kv => kv.Key.Namespace, StringComparer.Ordinal)
            .ThenBy(kv => kv.Key.Name, StringComparer.Ordinal)
            .Select(kv => Clone(kv.Value))];

    public void Put(T obj)
    {
        obj.ApiVersion = ApiVersion;
        obj.Kind = Kind;
        _items[(Key(obj.Metadata.NamespaceProperty), obj.Metadata.Name)] = Clone(obj);
    }

    public bool Remove(string? ns, string name) => _items.Remove((Key(ns), name));

    public static T Clone(T obj) => KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(obj));

    private string Key(string? ns) => Namespaced ? ns ?? "" : "";
}
