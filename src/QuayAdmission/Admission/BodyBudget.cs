namespace QuayAdmission.Admission;

/// <summary>
/// The bytes of review bodies held at once, across all requests. Each request reserves what it
/// has actually received (never what a header promises, which would let an idle client hold the
/// budget) and returns it when its answer is written, so memory under any mix of slow clients
/// stays bounded; a request that would go past the budget is refused, not queued.
/// </summary>
public sealed class BodyBudget(long capacity)
{
    private long used;

    public long Capacity => capacity;

    /// <summary>Bytes reserved right now.</summary>
    public long InFlight => Interlocked.Read(ref used);

    /// <summary>A reservation for one request; dispose it once the request no longer holds its body.</summary>
    public Lease Open() => new(this);

    private bool TryReserve(long bytes)
    {
        var seen = Interlocked.Read(ref used);
        while (true)
        {
            if (seen + bytes > capacity)
                return false;
            var before = Interlocked.CompareExchange(ref used, seen + bytes, seen);
            if (before == seen)
                return true;
            seen = before;
        }
    }

    public sealed class Lease(BodyBudget budget) : IDisposable
    {
        private long held;

        /// <summary>Grows the reservation to <paramref name="total"/> bytes; false when the budget cannot cover it.</summary>
        public bool TryGrowTo(long total)
        {
            if (total <= held)
                return true;
            if (!budget.TryReserve(total - held))
                return false;
            held = total;
            return true;
        }

        public void Dispose()
        {
            Interlocked.Add(ref budget.used, -held);
            held = 0;
        }
    }
}
