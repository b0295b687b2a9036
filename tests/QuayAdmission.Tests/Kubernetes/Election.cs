using k8s.Models;
using Microsoft.Extensions.Logging.Testing;
using QuayAdmission.Kubernetes;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Kubernetes;

/// <summary>
/// Candidates for one Lease on one stand-in API and one fake clock. The clock moves one RetryPeriod
/// at a time, and only once every running candidate is parked on it again, so each step is one
/// round of the election for everyone.
/// </summary>
internal sealed class Election : IAsyncDisposable
{
    public const string Namespace = "quay-admission";
    public const string LeaseName = "quay-admission-refresher";

    // client-go's rule LeaseDuration > RenewDeadline > RetryPeriod; the numbers are chosen so that no
    // other timer of the elector is set to RetryPeriod or the cooldown, which is how parking is seen.
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan RenewDeadline = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan RetryPeriod = TimeSpan.FromSeconds(4);
    public static readonly TimeSpan Cooldown = LeaseDuration * 2;

    private readonly List<Candidate> candidates = [];

    private Election(TestClock clock, FakeKubernetesApi kube)
    {
        Clock = clock;
        Kube = kube;
    }

    public TestClock Clock { get; }

    public FakeKubernetesApi Kube { get; }

    /// <summary>The Lease as the API holds it.</summary>
    public V1LeaseSpec? Lease => Kube.GetLease(Namespace, LeaseName)?.Spec;

    /// <summary>The Lease's holder; null when there is no Lease or it is released.</summary>
    public string? Holder => Lease?.HolderIdentity is { Length: > 0 } holder ? holder : null;

    public DateTime Now => Clock.GetUtcNow().UtcDateTime;

    public static async Task<Election> StartAsync()
    {
        var clock = new TestClock();
        return new Election(clock, await FakeKubernetesApi.StartAsync(clock));
    }

    /// <summary>Starts a candidate and waits until it has made its first attempt.</summary>
    public async Task<Candidate> JoinAsync(string identity, Func<CancellationToken, Task>? work = null)
    {
        var candidate = Add(identity, work);
        candidate.Start();
        await SettleAsync();
        return candidate;
    }

    /// <summary>Starts several candidates at the same moment.</summary>
    public async Task<IReadOnlyList<Candidate>> JoinTogetherAsync(params string[] identities)
    {
        var joined = identities.Select(identity => Add(identity, null)).ToList();
        joined.ForEach(c => c.Start());
        await SettleAsync();
        return joined;
    }

    /// <summary>Advances the clock by one RetryPeriod and waits for every running candidate to be parked again.</summary>
    public async Task StepAsync()
    {
        Clock.Advance(RetryPeriod);
        await SettleAsync();
    }

    /// <summary>Steps until at least <paramref name="elapsed"/> has passed since the start.</summary>
    public async Task StepToAsync(TimeSpan elapsed)
    {
        while (Clock.Elapsed < elapsed)
            await StepAsync();
    }

    private async Task SettleAsync()
    {
        var expected = candidates.Count(c => c.IsRunning);
        Assert.True(
            await Eventually.TrueAsync(() => Clock.Waiting(d => d == RetryPeriod || d == Cooldown) == expected && candidates.All(c => c.HasStartedItsWork)),
            $"not all {expected} candidates parked on the clock {Describe()}");
    }

    /// <summary>The candidates' logs and the API's requests, for failure messages.</summary>
    public string Describe() =>
        $"at {Clock.Elapsed}:\n"
        + string.Join("\n", candidates.SelectMany(c => c.Log.GetSnapshot().Select(r => $"{c.Identity}: {r.Message}")))
        + "\nrequests: " + string.Join(", ", Kube.Requests.Select(r => $"{r.Operation}@{r.At - Clock.Start}"));

    public async ValueTask DisposeAsync()
    {
        // A request hanging on purpose would hold up the releases of shutdown, whose budget is on the fake clock.
        Kube.ClearFaults();
        foreach (var candidate in candidates)
            await candidate.DisposeAsync();
        await Kube.DisposeAsync();
    }

    private Candidate Add(string identity, Func<CancellationToken, Task>? work)
    {
        var network = new Partition();
        var client = new KubernetesApi(Kube.ClientConfiguration(), network);
        var settings = new LeaseElectionSettings(Namespace, LeaseName, identity, LeaseDuration, RenewDeadline, RetryPeriod);
        var log = new FakeLogCollector();
        var candidate = new Candidate(identity, new LeaseElector(client, settings, Clock, new FakeLogger(log)), client, network, work) { Log = log };
        candidates.Add(candidate);
        return candidate;
    }
}

/// <summary>One replica in an election: its elector, its work while it leads, and its own view of the network.</summary>
internal sealed class Candidate : IAsyncDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private readonly LeaseElector elector;
    private readonly KubernetesApi client;
    private readonly Func<CancellationToken, Task>? work;
    private int terms;
    private int working;
    private volatile bool healthy = true;
    private Task run = Task.CompletedTask;

    public Candidate(string identity, LeaseElector elector, KubernetesApi client, Partition network, Func<CancellationToken, Task>? work)
    {
        Identity = identity;
        this.elector = elector;
        this.client = client;
        Network = network;
        this.work = work;
    }

    public string Identity { get; }

    public Partition Network { get; }

    public required FakeLogCollector Log { get; init; }

    /// <summary>What it tells its elector before every renewal: false means its work stalled.</summary>
    public bool Healthy
    {
        get => healthy;
        set => healthy = value;
    }

    /// <summary>How many times its work was started, i.e. terms as leader.</summary>
    public int Terms => Volatile.Read(ref terms);

    /// <summary>True while its work runs and the work's token is not cancelled.</summary>
    public bool Working => Volatile.Read(ref working) == 1;

    public bool IsLeader => elector.IsLeader;

    /// <summary>The client's timeout for each API call: KubernetesClient's 100 s unless a test shortens it.</summary>
    public TimeSpan ClientTimeout
    {
        get => client.Timeout;
        set => client.Timeout = value;
    }

    public bool IsRunning => !run.IsCompleted;

    /// <summary>False only in the moment between winning the Lease and the work's start.</summary>
    public bool HasStartedItsWork => !IsLeader || (Terms > 0 && (work is not null || Working));

    /// <summary>Runs the elector off the test's synchronization context, as the host would.</summary>
    public void Start() => run = Task.Run(() => elector.RunAsync(WorkAsync, () => healthy, stopping.Token));

    /// <summary>Shuts the candidate down as the process would, and checks that RunAsync ends only because of that.</summary>
    public async Task StopAsync()
    {
        await stopping.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        try
        {
            await run.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }
        client.Dispose();
        stopping.Dispose();
    }

    private async Task WorkAsync(CancellationToken leading)
    {
        Interlocked.Increment(ref terms);
        if (work is not null)
        {
            await work(leading);
            return;
        }
        Volatile.Write(ref working, 1);
        using var _ = leading.Register(() => Volatile.Write(ref working, 0));
        await Task.Delay(Timeout.InfiniteTimeSpan, leading);
    }
}

/// <summary>Cuts one candidate off from the API: a partition only it sees, while the others still reach the API.</summary>
internal sealed class Partition : DelegatingHandler
{
    private volatile bool cut;

    public bool Cut
    {
        get => cut;
        set => cut = value;
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        cut
            ? Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (partition)"))
            : base.SendAsync(request, cancellationToken);
}
