using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace QuayAdmission.Tests.Fakes;

/// <summary>
/// One version of one object as the store keeps it: its JSON as list items carry it (without
/// <c>kind</c> and <c>apiVersion</c>), and the labels selectors match on, taken once at write time
/// as the API server's GetAttrs does. Immutable, so lists, snapshots, history and watches share it.
/// </summary>
internal sealed record StoredObject(string Key, string Namespace, string Name, long Version, byte[] Json,
    IReadOnlyDictionary<string, string> Labels);

internal enum ChangeType
{
    Added,
    Modified,
    Deleted,
}

/// <summary>One write, as the watch cache records it: the state before (null for a create) and after (null for a delete).</summary>
internal sealed class Change(ChangeType type, long version, StoredObject? previous, StoredObject? current, Func<StoredObject, long, byte[]> restamp)
{
    private readonly Lazy<byte[]>? _previousAtVersion = previous is null ? null : new(() => restamp(previous, version));

    public ChangeType Type { get; } = type;

    public long Version { get; } = version;

    public StoredObject? Previous { get; } = previous;

    public StoredObject? Current { get; } = current;

    public string Key => (Current ?? Previous)!.Key;

    /// <summary>What a DELETED event carries: the last content, with the resourceVersion of this change.</summary>
    public byte[] PreviousAtVersion => _previousAtVersion?.Value ?? throw new InvalidOperationException("a create has no previous state");
}

/// <summary>The sorted items of one store at one resourceVersion: what a paginated list reads from.</summary>
internal sealed class Snapshot(long validFrom, StoredObject[] items)
{
    /// <summary>The state holds for resourceVersions in [ValidFrom, ValidUntil).</summary>
    public long ValidFrom { get; } = validFrom;

    public long ValidUntil { get; set; } = long.MaxValue;

    /// <summary>In etcd key order (namespace/name, ordinal), the order the API server lists in.</summary>
    public StoredObject[] Items { get; } = items;

    /// <summary>The index of the first item whose key is at or after <paramref name="key"/>.</summary>
    public int IndexOf(string key)
    {
        int low = 0, high = Items.Length;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (string.CompareOrdinal(Items[middle].Key, key) < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }
}

/// <summary>What every store offers whatever its object type: compaction.</summary>
internal interface IKubeStore
{
    void Compact(long version);
}

/// <summary>
/// Objects of one resource, keyed by namespace/name (cluster-scoped ones by name), with the bounded
/// history of changes that watches replay and that rebuilds a consistent snapshot at an earlier
/// resourceVersion. Not thread safe: <see cref="FakeKubernetesApi"/> guards every store with one lock,
/// which also keeps the global resourceVersion counter consistent across resources, as etcd's is.
/// </summary>
internal sealed class KubeObjectStore<T> : IKubeStore
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    // Paginated lists in flight each hold one; a handful is plenty for tests and the benchmark.
    private const int SnapshotsKept = 8;

    // Like the watch cache's capacity: a watch or continue token older than this many changes is 410 Expired.
    private const int HistoryLimit = 10_000;

    private readonly Dictionary<string, StoredObject> _items = new(StringComparer.Ordinal);
    private readonly Queue<Change> _history = new();
    private readonly List<Snapshot> _snapshots = [];
    private readonly List<Action<Change>> _subscribers = [];
    private readonly byte[] _typePrefix;

    /// <param name="emptyFields">What Go's encoding of an empty object of the kind adds after metadata,
    /// e.g. <c>,"spec":{"containers":null},"status":{}</c> for a Pod: a BOOKMARK carries exactly that.</param>
    public KubeObjectStore(string resource, string apiVersion, string kind, bool namespaced = true, string emptyFields = "")
    {
        Resource = resource;
        ApiVersion = apiVersion;
        Kind = kind;
        Namespaced = namespaced;
        EmptyFields = emptyFields;
        _typePrefix = Encoding.UTF8.GetBytes($"{{\"kind\":\"{kind}\",\"apiVersion\":\"{apiVersion}\",");
    }

    /// <summary>As the API names it in messages, e.g. <c>secrets</c> or <c>leases.coordination.k8s.io</c>.</summary>
    public string Resource { get; }

    public string ApiVersion { get; }

    public string Kind { get; }

    public bool Namespaced { get; }

    /// <summary>See the constructor's emptyFields.</summary>
    public string EmptyFields { get; }

    /// <summary>Every change after this resourceVersion is still in the history; older ones are gone (410 Expired).</summary>
    public long Horizon { get; private set; }

    public string KeyOf(string? ns, string name) => Namespaced ? $"{ns}/{name}" : name;

    /// <summary>Where the keys of one namespace start, e.g. <c>team-a/</c>; empty for all.</summary>
    public string PrefixOf(string? ns) => Namespaced && ns is not null ? ns + "/" : "";

    public StoredObject? Find(string? ns, string name) => _items.GetValueOrDefault(KeyOf(ns, name));

    public T? Get(string? ns, string name) => Find(ns, name) is { } stored ? Typed(stored) : null;

    /// <summary>Copies of all objects, or those of one namespace, in the API's order.</summary>
    public List<T> List(string? ns = null)
    {
        var prefix = PrefixOf(ns);
        return [.. _items.Values
            .Where(s => s.Key.StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(Typed)];
    }

    /// <summary>A private copy of the stored object, with kind and apiVersion.</summary>
    public T Typed(StoredObject stored)
    {
        var obj = KubernetesJson.Deserialize<T>(Encoding.UTF8.GetString(stored.Json));
        obj.ApiVersion = ApiVersion;
        obj.Kind = Kind;
        return obj;
    }

    /// <summary>The object's JSON as a single GET or a watch event carries it: with kind and apiVersion.</summary>
    public byte[] WithType(byte[] json) => [.. _typePrefix, .. json.AsSpan(1)];

    /// <summary>Stores <paramref name="obj"/> (which the store now owns) at <paramref name="version"/>; the caller has set its metadata.</summary>
    public Change Put(T obj, long version) => Commit(Prepare(obj, version));

    /// <summary>The stored form of <paramref name="obj"/> at <paramref name="version"/>. Reads no store state,
    /// so a bulk seed prepares many objects in parallel before committing them in order.</summary>
    public StoredObject Prepare(T obj, long version)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var meta = obj.Metadata;
        meta.ResourceVersion = Format(version);
        var ns = Namespaced ? meta.NamespaceProperty ?? "" : "";
        var labels = meta.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(meta.Labels, StringComparer.Ordinal);
        return new StoredObject(KeyOf(ns, meta.Name), ns, meta.Name, version, Serialize(obj), labels);
    }

    /// <summary>Makes <paramref name="stored"/> the current state: a change in the history and for every watcher.
    /// Versions must come in increasing order, as the global counter hands them out.</summary>
    public Change Commit(StoredObject stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var previous = _items.GetValueOrDefault(stored.Key);
        _items[stored.Key] = stored;
        return Record(new Change(previous is null ? ChangeType.Added : ChangeType.Modified, stored.Version, previous, stored, Restamp));
    }

    /// <summary>True when storing <paramref name="obj"/> would write the same bytes as <paramref name="stored"/>:
    /// the API server then skips the write (no new resourceVersion, no watch event).</summary>
    public static bool Unchanged(T obj, StoredObject stored)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(stored);
        obj.Metadata.ResourceVersion = Format(stored.Version);
        return Serialize(obj).AsSpan().SequenceEqual(stored.Json);
    }

    public Change? Remove(string? ns, string name, long version)
    {
        var key = KeyOf(ns, name);
        return _items.Remove(key, out var previous)
            ? Record(new Change(ChangeType.Deleted, version, previous, null, Restamp))
            : null;
    }

    /// <summary>The store's items at <paramref name="version"/>, or null when the history no longer reaches back to it.</summary>
    public Snapshot? SnapshotAt(long version)
    {
        if (version < Horizon)
        {
            return null;
        }

        if (_snapshots.Find(s => s.ValidFrom <= version && version < s.ValidUntil) is { } cached)
        {
            return cached;
        }

        var items = new Dictionary<string, StoredObject>(_items, StringComparer.Ordinal);
        var validFrom = Horizon;
        var validUntil = long.MaxValue;
        foreach (var change in _history.Reverse())
        {
            if (change.Version <= version)
            {
                validFrom = change.Version;
                break;
            }

            validUntil = change.Version;
            if (change.Previous is { } previous)
            {
                items[change.Key] = previous;
            }
            else
            {
                items.Remove(change.Key);
            }
        }

        var sorted = items.Values.ToArray();
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var snapshot = new Snapshot(validFrom, sorted) { ValidUntil = validUntil };
        if (_snapshots.Count == SnapshotsKept)
        {
            _snapshots.RemoveAt(0);
        }

        _snapshots.Add(snapshot);
        return snapshot;
    }

    /// <summary>The retained changes after <paramref name="version"/>, oldest first; the caller checked <see cref="Horizon"/>.</summary>
    public List<Change> ChangesAfter(long version) => [.. _history.Where(c => c.Version > version)];

    /// <summary>The current objects, in key order, as the synthetic ADDED events a watch from "now" starts with.</summary>
    public List<Change> CurrentAsAdded() =>
        [.. _items.Values.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new Change(ChangeType.Added, s.Version, null, s, Restamp))];

    /// <summary>Forgets the history up to <paramref name="version"/>, as etcd compaction does.</summary>
    public void Compact(long version)
    {
        _history.Clear();
        _snapshots.Clear();
        Horizon = Math.Max(Horizon, version);
    }

    public void Subscribe(Action<Change> onChange) => _subscribers.Add(onChange);

    public void Unsubscribe(Action<Change> onChange) => _subscribers.Remove(onChange);

    private Change Record(Change change)
    {
        foreach (var snapshot in _snapshots.Where(s => s.ValidUntil == long.MaxValue))
        {
            snapshot.ValidUntil = change.Version;
        }

        _history.Enqueue(change);
        TrimHistory();
        foreach (var subscriber in _subscribers)
        {
            subscriber(change);
        }

        return change;
    }

    private void TrimHistory()
    {
        while (_history.Count > HistoryLimit)
        {
            Horizon = _history.Dequeue().Version;
        }

        _snapshots.RemoveAll(s => s.ValidUntil <= Horizon);
    }

    // Without kind and apiVersion: list items carry neither; a single object or an event gets them from WithType.
    private static byte[] Serialize(T obj)
    {
        obj.ApiVersion = null;
        obj.Kind = null;
        return Encoding.UTF8.GetBytes(KubernetesJson.Serialize(obj));
    }

    private static string Format(long version) => version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    // A DELETED event carries the last state with the deletion's resourceVersion, as the watch cache sends it.
    private static byte[] Restamp(StoredObject stored, long version)
    {
        var node = JsonNode.Parse(stored.Json)!;
        node["metadata"]!["resourceVersion"] = Format(version);
        return Encoding.UTF8.GetBytes(node.ToJsonString());
    }
}
