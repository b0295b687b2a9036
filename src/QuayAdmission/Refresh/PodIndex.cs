namespace QuayAdmission.Refresh;

/// <summary>Which active injected Pods list each managed Secret: the desired side of the reconciliation.</summary>
public sealed class PodIndex
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, Dictionary<string, InjectedPod>> users = new(StringComparer.Ordinal);

    /// <summary>Applies one cache change; returns the Secret ids whose users changed.</summary>
    public IReadOnlyList<string> Update(InjectedPod? old, InjectedPod? changed)
    {
        var touched = new List<string>();
        lock (gate)
        {
            if (old is not null)
            {
                foreach (var id in SecretIds(old))
                {
                    if (users.TryGetValue(id, out var pods) && pods.Remove(old.Id) && pods.Count == 0)
                        users.Remove(id);
                    touched.Add(id);
                }
            }
            if (changed is { IsActive: true })
            {
                foreach (var id in SecretIds(changed))
                {
                    if (!users.TryGetValue(id, out var pods))
                        users[id] = pods = new Dictionary<string, InjectedPod>(StringComparer.Ordinal);
                    pods[changed.Id] = changed;
                    touched.Add(id);
                }
            }
        }
        return touched.Distinct(StringComparer.Ordinal).ToList();
    }

    public IReadOnlyList<InjectedPod> Users(string secretId)
    {
        lock (gate)
            return users.TryGetValue(secretId, out var pods) ? pods.Values.ToList() : [];
    }

    public bool IsListed(string secretId)
    {
        lock (gate)
            return users.ContainsKey(secretId);
    }

    public IReadOnlyList<string> SecretIds()
    {
        lock (gate)
            return users.Keys.ToList();
    }

    private static IEnumerable<string> SecretIds(InjectedPod pod) => pod.PullSecretNames.Select(name => $"{pod.Namespace}/{name}");
}
