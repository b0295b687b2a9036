using System.Globalization;
using System.Net.Http.Json;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.PullSecrets;
using QuayAdmission.Quay;
using QuayAdmission.Refresh;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Refresh;

/// <summary>The refresher against the stand-ins: fake clock for token lifetimes, real (short) leases for leader election.</summary>
[Collection(SerialTests.Name)]
public sealed class RefresherTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    internal static Dictionary<string, string?> RefresherOn(string identity) => new()
    {
        ["QuayAdmission:Refresher:Enabled"] = "true",
        ["QuayAdmission:Refresher:Identity"] = identity,
        ["QuayAdmission:Refresher:LeaseNamespace"] = "quay-admission",
        ["QuayAdmission:Refresher:Interval"] = Interval.ToString(),
        // The tests move the clock by minutes at a time: a lease that outlives those jumps keeps
        // leadership out of the way (LeaseElectorTests cover expiry and stalls step by step).
        ["QuayAdmission:Refresher:LeaseDuration"] = "04:00:00",
        ["QuayAdmission:Refresher:RenewDeadline"] = "03:00:00",
        ["QuayAdmission:Refresher:RetryPeriod"] = "00:00:00.2",
        ["QuayAdmission:Refresher:StallAfter"] = "1.00:00:00",
    };

    internal static RefreshController RefresherOf(WebhookHost host) => host.Factory.Services.GetRequiredService<RefreshController>();

    /// <summary>Moves the clock and waits until the resync that follows has been worked off.</summary>
    internal static async Task NextPassAsync(WebhookHost host, TimeSpan? advance = null)
    {
        var refresher = RefresherOf(host);
        var before = refresher.Resyncs;
        host.Time.Advance(advance ?? Interval);
        Assert.True(await Eventually.TrueAsync(() => refresher.Resyncs > before && refresher.IsIdle), "no refresh pass");
    }

    internal static async Task<WebhookHost> LeadingAsync(Dictionary<string, string?>? extra = null, Action<IServiceCollection>? services = null)
    {
        var settings = RefresherOn("replica-a");
        foreach (var (key, value) in extra ?? [])
            settings[key] = value;
        var host = await WebhookHost.StartAsync(settings, services);
        Assert.True(await Eventually.TrueAsync(() => RefresherOf(host).Resyncs > 0 && RefresherOf(host).IsIdle), "the refresher never led");
        return host;
    }

    /// <summary>Writes a Secret as another writer would, and waits until the watch has brought it to the refresher's cache.</summary>
    internal static async Task PutWatchedAsync(WebhookHost host, V1Secret secret)
    {
        host.Kube.PutSecret(secret);
        var cache = host.Factory.Services.GetRequiredService<ManagedSecretCache>();
        var written = long.Parse(host.Kube.GetSecret(secret.Metadata.NamespaceProperty, secret.Metadata.Name)!.Metadata.ResourceVersion, CultureInfo.InvariantCulture);
        // This write or a later one: the leader may already have filled the Secret, and the cache
        // then holds that version. (The stand-in's resourceVersions are increasing integers.)
        Assert.True(await Eventually.TrueAsync(() => cache.Get(secret.Metadata.NamespaceProperty, secret.Metadata.Name)?.ResourceVersion is { } seen
                && long.Parse(seen, CultureInfo.InvariantCulture) >= written),
            "the watch never brought the Secret");
    }

    /// <summary>A running Pod that lists <paramref name="secretName"/>, labelled as the webhook's patch labels it.</summary>
    internal static void PodUsing(WebhookHost host, string secretName, string name = "web-0", bool labelled = true, string serviceAccount = "default") => host.Kube.AddPod(new V1Pod
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = "team-a",
            Labels = labelled ? new Dictionary<string, string> { [WellKnown.InjectedLabel] = WellKnown.InjectedValue } : null,
            Annotations = new Dictionary<string, string> { [WellKnown.RobotAccountAnnotation] = "acme+puller" },
        },
        Spec = new V1PodSpec
        {
            ServiceAccountName = serviceAccount,
            Containers = [new V1Container { Name = "app", Image = "quay.io/acme/app:1" }],
            ImagePullSecrets = [new V1LocalObjectReference { Name = secretName }],
        },
        Status = new V1PodStatus { Phase = "Running" },
    });

    private static string SecretName(WebhookHost host) => PullSecretKey.NameFor("default", host.RegistryHost, "acme+puller");

    [Fact]
    public async Task A_used_secret_is_renewed_in_place_after_the_refresh_fraction()
    {
        await using var host = await LeadingAsync();
        host.Trust("acme+puller");
        await host.AdmitAsync(Pods.Json());
        var name = SecretName(host);
        PodUsing(host, name);
        var before = host.Kube.GetSecret("team-a", name)!;
        var firstExpiry = PullSecretManifest.ExpiresAt(before)!.Value;

        await NextPassAsync(host, TimeSpan.FromMinutes(20)); // a third of the life: not yet
        Assert.Equal(1, host.Quay.ExchangeCount);

        await NextPassAsync(host, TimeSpan.FromMinutes(11)); // past half, well before exp
        var after = host.Kube.GetSecret("team-a", name)!;
        Assert.Equal(2, host.Quay.ExchangeCount);
        Assert.Equal(before.Metadata.Uid, after.Metadata.Uid);
        Assert.NotEqual(before.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
        Assert.True(PullSecretManifest.ExpiresAt(after) > firstExpiry);
        Assert.True(host.Time.GetUtcNow() < firstExpiry);
    }

    [Fact]
    public async Task A_renewal_comes_at_its_due_time_without_a_resync()
    {
        await using var host = await LeadingAsync(new() { ["QuayAdmission:Refresher:Interval"] = "1.00:00:00" });
        var refresher = RefresherOf(host);
        host.Trust("acme+puller");
        await host.AdmitAsync(Pods.Json());
        var name = SecretName(host);
        PodUsing(host, name);
        // The leader's gauge names an expiry once its Pod index has the Pod: the reconcile that followed scheduled the renewal.
        Assert.True(await Eventually.TrueAsync(async () =>
            PrometheusText.Parse(await host.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Has("quay_admission_earliest_token_expiry_seconds")
            && refresher.IsIdle), "the Pod never reached the refresher");
        var resyncs = refresher.Resyncs;

        host.Time.Advance(TimeSpan.FromMinutes(31)); // past half the token's life, far from the next resync

        Assert.True(await Eventually.TrueAsync(() => host.Quay.ExchangeCount == 2 && refresher.IsIdle), "the renewal was not scheduled");
        Assert.Equal(resyncs, refresher.Resyncs);
        Assert.True(PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", name)!) > host.Time.GetUtcNow().AddMinutes(55));
    }

    [Fact]
    public async Task An_unused_secret_is_left_to_expire_and_deleted_after_gc_after()
    {
        await using var host = await LeadingAsync();
        var key = new PullSecretKey("team-a", "default", host.RegistryHost, "acme+old");
        await PutWatchedAsync(host, PullSecretManifest.Build(key, new QuayToken("opaque", host.Time.GetUtcNow().AddMinutes(-30))));
        var used = new PullSecretKey("team-a", "default", host.RegistryHost, "acme+used");
        PodUsing(host, used.SecretName);
        await PutWatchedAsync(host, PullSecretManifest.Build(used, new QuayToken("opaque", host.Time.GetUtcNow().AddMinutes(-90))));

        await NextPassAsync(host);
        Assert.NotNull(host.Kube.GetSecret("team-a", key.SecretName));

        await NextPassAsync(host, TimeSpan.FromMinutes(31)); // expired 61 minutes ago
        Assert.Null(host.Kube.GetSecret("team-a", key.SecretName));
        Assert.NotNull(host.Kube.GetSecret("team-a", used.SecretName));
        Assert.Equal(1, host.Kube.Count("secrets.delete"));
    }

    [Fact]
    public async Task A_placeholder_is_filled_once_quay_recovers()
    {
        await using var host = await LeadingAsync();
        host.Trust("acme+puller");
        host.Quay.Behaviour = QuayBehaviour.Status(503, """{"error":"maintenance"}""");
        var admitted = await host.AdmitAsync(Pods.Json());
        Assert.Single(admitted.Warnings);
        var name = SecretName(host);
        Assert.True(await Eventually.TrueAsync(() => host.Kube.GetSecret("team-a", name) is not null));
        PodUsing(host, name);

        await NextPassAsync(host);
        Assert.Null(PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", name)!));

        host.Quay.Behaviour = QuayBehaviour.Normal;
        await NextPassAsync(host, TimeSpan.FromMinutes(11)); // past the key's backoff, whatever its count of failures (BackoffMax 10 min)
        var filled = host.Kube.GetSecret("team-a", name)!;
        Assert.NotNull(PullSecretManifest.ExpiresAt(filled));
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Events.Any(e => e.Reason == "PlaceholderFilled" && e.InvolvedObject.Name == name && e.Type == "Normal")));
    }

    [Fact]
    public async Task A_failing_renewal_backs_off_keeps_the_token_and_records_one_event()
    {
        await using var host = await LeadingAsync(new() { ["QuayAdmission:Refresher:BackoffBase"] = "00:00:30" });
        host.Trust("acme+puller");
        await host.AdmitAsync(Pods.Json());
        var name = SecretName(host);
        PodUsing(host, name);
        var token = host.Kube.GetSecret("team-a", name)!.Data[".dockerconfigjson"];
        host.Quay.Behaviour = QuayBehaviour.Status(500, """{"error":"internal"}""");
        host.Quay.ResetCounts();

        await NextPassAsync(host, TimeSpan.FromMinutes(31));
        const int passes = 8;
        for (var i = 1; i < passes; i++)
            await NextPassAsync(host);

        var attempts = host.Quay.ExchangeCount;
        Assert.InRange(attempts, 3, passes - 2); // backing off: fewer attempts than passes, but it keeps trying
        Assert.Equal(token, host.Kube.GetSecret("team-a", name)!.Data[".dockerconfigjson"]);
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Events.Any(e => e.Reason == "RenewalFailing")));
        Assert.Single(host.Kube.Events, e => e.InvolvedObject.Name == name);
        Assert.DoesNotContain("eyJ", host.Kube.Events.Single().Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("secrets.patch", 500)]
    [InlineData("tokenrequest", 429)]
    [InlineData("secrets.get", 503)]
    public async Task The_refresher_recovers_when_an_api_fault_ends(string operation, int code)
    {
        await using var host = await LeadingAsync();
        host.Trust("acme+puller");
        await host.AdmitAsync(Pods.Json());
        var name = SecretName(host);
        PodUsing(host, name);
        var firstExpiry = PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", name)!);
        host.Kube.SetFault(operation, Fault.Status(code));

        await NextPassAsync(host, TimeSpan.FromMinutes(31));
        await NextPassAsync(host);
        Assert.Equal(firstExpiry, PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", name)!));

        host.Kube.ClearFaults();
        // Past any backoff: how many times the key failed depends on when the Pod's watch event
        // came, and its backoff doubles from 10 s up to the refresher's BackoffMax of 10 minutes.
        await NextPassAsync(host, TimeSpan.FromMinutes(11));
        Assert.True(PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", name)!) > firstExpiry);
    }

    [Fact]
    public async Task A_hung_exchange_does_not_hold_up_the_others()
    {
        await using var host = await LeadingAsync(new() { ["QuayAdmission:Refresher:Concurrency"] = "2" });
        host.Kube.SetFault("tokenrequest", Fault.Hang with { Times = 1 });
        foreach (var account in new[] { "one", "two", "three" })
        {
            var key = new PullSecretKey("team-a", account, host.RegistryHost, "acme+puller");
            host.Trust("acme+puller", serviceAccount: account);
            PodUsing(host, key.SecretName, account, serviceAccount: account);
            await PutWatchedAsync(host, PullSecretManifest.Build(key, token: null));
        }

        // Generous for a loaded machine: a wait this long still cannot pass while one hung exchange holds a worker the others need.
        Assert.True(await Eventually.TrueAsync(() => host.Kube.Secrets.Count(s => PullSecretManifest.ExpiresAt(s) is not null) == 2, TimeSpan.FromSeconds(30)), "the others waited");
        Assert.Equal(3, host.Kube.Count("tokenrequest"));
    }

    [Fact]
    public async Task Only_the_lease_holder_works_and_another_takes_over_when_it_lets_go()
    {
        await using var shared = await SharedStandIns.StartAsync();
        var first = await WebhookHost.StartAsync(RefresherOn("replica-a"), shared: shared);
        Assert.True(await Eventually.TrueAsync(() => RefresherOf(first).Resyncs > 0));
        await using var second = await WebhookHost.StartAsync(RefresherOn("replica-b"), shared: shared);

        // The second replica tries every RetryPeriod; the first renews on the same clock.
        var gets = shared.Kube.Count("leases.get");
        Assert.True(await Eventually.TrueAsync(() =>
        {
            shared.Time.Advance(TimeSpan.FromMilliseconds(200));
            return shared.Kube.Count("leases.get") >= gets + 20;
        }), "no election traffic");
        Assert.Equal("replica-a", shared.Kube.GetLease("quay-admission", "quay-admission-refresher")!.Spec.HolderIdentity);
        Assert.False(RefresherOf(second).IsLeading);
        Assert.Equal(0, RefresherOf(second).Resyncs);

        await first.DisposeAsync(); // releases the Lease on the way out
        Assert.True(await Eventually.TrueAsync(() =>
        {
            shared.Time.Advance(TimeSpan.FromMilliseconds(200));
            return RefresherOf(second).Resyncs > 0;
        }), "no take-over");
        Assert.Equal("replica-b", shared.Kube.GetLease("quay-admission", "quay-admission-refresher")!.Spec.HolderIdentity);
    }

    [Fact]
    public async Task Metrics_report_the_earliest_expiry_of_listed_tokens_at_scrape_time()
    {
        await using var host = await LeadingAsync();
        host.Trust("acme+puller");
        await host.AdmitAsync(Pods.Json());
        PodUsing(host, SecretName(host));
        // A finished Job's Secret, expired and waiting for garbage collection: nothing to alert on.
        var done = new PullSecretKey("team-a", "default", host.RegistryHost, "acme+job");
        await PutWatchedAsync(host, PullSecretManifest.Build(done, new QuayToken("opaque", host.Time.GetUtcNow().AddMinutes(-5))));
        await NextPassAsync(host, TimeSpan.FromMinutes(5));

        var metrics = PrometheusText.Parse(await host.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Equal(2, metrics.Value("quay_admission_managed_secrets"));
        Assert.InRange(metrics.Value("quay_admission_earliest_token_expiry_seconds"), 55 * 60 - 1, 55 * 60 + 1);

        // Computed when scraped: the number moves with the clock, not with the last pass.
        host.Time.Advance(TimeSpan.FromMinutes(10));
        metrics = PrometheusText.Parse(await host.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.InRange(metrics.Value("quay_admission_earliest_token_expiry_seconds"), 45 * 60 - 1, 45 * 60 + 1);
        Assert.True(metrics.Value("quay_admission_background_last_success_timestamp_seconds", ("loop", "secret-watch")) > 0);
    }
}
