namespace QuayAdmission.PullSecrets;

/// <summary>
/// At most <c>perNamespace</c> exchanges of one namespace at once. Taken before a slot of the global
/// limit, so a tenant naming many slow or failing robots queues behind its own share while the
/// other namespaces keep the rest. A namespace's gate exists only while someone holds or awaits it.
/// </summary>
public sealed class NamespaceShare(int perNamespace)
{
    private readonly Dictionary<string, Gate> gates = new(StringComparer.Ordinal);
    private readonly Lock sync = new();

    /// <summary>Waits for a slot of <paramref name="ns"/>; dispose the result to give it back.</summary>
    public async Task<IDisposable> EnterAsync(string ns, CancellationToken ct)
    {
        Gate gate;
        lock (sync)
        {
            if (!gates.TryGetValue(ns, out gate!))
                gates[ns] = gate = new Gate(new SemaphoreSlim(perNamespace));
            gate.Users++;
        }
        try
        {
            await gate.Slots.WaitAsync(ct);
        }
        catch
        {
            Leave(ns, gate);
            throw;
        }
        return new Slot(this, ns, gate);
    }

    /// <summary>Namespaces with an exchange running or waiting, for tests of the bounded memory.</summary>
    internal int ActiveNamespaces
    {
        get
        {
            lock (sync)
                return gates.Count;
        }
    }

    private void Leave(string ns, Gate gate)
    {
        lock (sync)
        {
            if (--gate.Users > 0)
                return;
            gates.Remove(ns);
        }
        gate.Slots.Dispose();
    }

    private sealed class Gate(SemaphoreSlim slots)
    {
        public SemaphoreSlim Slots { get; } = slots;

        /// <summary>Holders and waiters; guarded by the share's lock.</summary>
        public int Users { get; set; }
    }

    private sealed class Slot(NamespaceShare share, string ns, Gate gate) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
                return;
            gate.Slots.Release();
            share.Leave(ns, gate);
        }
    }
}
