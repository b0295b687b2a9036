using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;
using Xunit.Abstractions;

namespace QuayAdmission.NativeSmoke;

/// <summary>
/// The native webhook process, configured as in a pod, against the Kubernetes API and Quay stand-ins:
/// start and readiness, one review that mints, the metrics scrape, and a SIGTERM while a review is in
/// flight. Outcomes and counts only; how fast it starts is `make bench`'s business.
/// </summary>
public sealed class NativeWebhookTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Robot = "acme+puller";
    private const string LeaseNamespace = "quay-admission";
    private const string Identity = "native-smoke";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string work = Directory.CreateTempSubdirectory("quay-admission-native-").FullName;
    private readonly List<string> log = [];
    private FakeKubernetesApi kube = null!;
    private FakeQuay quay = null!;
    private DevCertificates certificates = null!;

    public async Task InitializeAsync()
    {
        kube = await FakeKubernetesApi.StartAsync(TimeProvider.System);
        quay = await FakeQuay.StartAsync(TimeProvider.System);
        certificates = DevCertificates.Write(work);
        quay.TrustSubject(Robot, kube.Issuer, "system:serviceaccount:team-a:default");
    }

    public async Task DisposeAsync()
    {
        await quay.DisposeAsync();
        await kube.DisposeAsync();
        lock (log)
            log.ForEach(output.WriteLine);
        Directory.Delete(work, recursive: true);
    }

    [NativeFact]
    public async Task Starts_becomes_ready_and_takes_the_refresher_lease()
    {
        await using var webhook = await StartAsync();
        using var health = HealthClient(webhook);

        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
        // The background half runs natively too: leader election over the Lease stand-in.
        Assert.True(await Eventually.TrueAsync(() => kube.GetLease(LeaseNamespace, "quay-admission-refresher")?.Spec?.HolderIdentity == Identity, Deadline),
            "the refresher never took its Lease");
        Assert.Equal(0, await webhook.TerminateAsync(Deadline));
        AssertNoErrorsLogged();
    }

    [NativeFact]
    public async Task A_review_mints_a_token_into_the_Secret_and_the_metrics_count_it()
    {
        // A budget far beyond the exchange: on a loaded machine the first mint must not degrade to a warning.
        await using var webhook = await StartAsync(("QuayAdmission__InlineBudget", "00:00:20"));
        using var client = certificates.Client(webhook.HttpsPort);
        var pod = Pods.Json(name: null, generateName: "web-", robotAccount: Robot);

        var first = await AdmitAsync(client, pod, "uid-first");
        var again = await AdmitAsync(client, pod, "uid-again");

        var secretName = Assert.Single(kube.Secrets).Metadata.Name;
        foreach (var (answer, uid) in new[] { (first, "uid-first"), (again, "uid-again") })
        {
            Assert.Equal(uid, answer["uid"]!.GetValue<string>());
            Assert.True(answer["allowed"]!.GetValue<bool>());
            Assert.True(answer["warnings"] is null, answer["warnings"]?.ToJsonString());
            var patch = JsonNode.Parse(Convert.FromBase64String(answer["patch"]!.GetValue<string>()))!.ToJsonString();
            Assert.Contains($"\"name\":\"{secretName}\"", patch, StringComparison.Ordinal);
        }
        Assert.Equal(1, quay.ExchangeCount);
        Assert.Equal(1, kube.Count("tokenrequest"));

        var secret = kube.GetSecret("team-a", secretName)!;
        Assert.Equal("kubernetes.io/dockerconfigjson", secret.Type);
        var auth = JsonNode.Parse(secret.Data[".dockerconfigjson"])!["auths"]![quay.Host]!;
        Assert.Equal(Robot, auth["username"]!.GetValue<string>());
        Assert.Equal(Assert.Single(quay.Exchanges).IssuedToken, auth["password"]!.GetValue<string>());
        Assert.NotNull(secret.Metadata.Annotations["quay-admission.io/expires-at"]);

        using var health = HealthClient(webhook);
        var metrics = PrometheusText.Parse(await health.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.Equal(2, metrics.Value("quay_admission_admissions_total", ("outcome", "patched")));
        Assert.Equal(1, metrics.Value("quay_admission_token_exchanges_total", ("registry", quay.Host), ("result", "ok")));
        Assert.Equal(1, metrics.Value("quay_admission_cache_lookups_total", ("result", "miss")));
        Assert.Equal(1, metrics.Value("quay_admission_cache_lookups_total", ("result", "hit")));
        Assert.Equal(2, metrics.Value("quay_admission_admission_duration_seconds_count", ("outcome", "patched")));

        Assert.Equal(0, await webhook.TerminateAsync(Deadline));
        AssertNoErrorsLogged();
        Assert.DoesNotContain(Lines(), line => line.Contains(auth["password"]!.GetValue<string>(), StringComparison.Ordinal));
        // As shipped (appsettings.json at Information): the mint has its line, the cache hit is Debug and not shown.
        Assert.Single(Lines(), line => line.Contains("[1001] Admission uid-first", StringComparison.Ordinal));
        Assert.DoesNotContain(Lines(), line => line.Contains("Admission uid-again", StringComparison.Ordinal));
    }

    [NativeFact]
    public async Task Sigterm_answers_the_review_in_flight_then_exits_cleanly()
    {
        // Quay holds the exchange far longer than the test waits, so the review is still open when SIGTERM arrives.
        quay.Behaviour = QuayBehaviour.Delay(TimeSpan.FromMinutes(2));
        await using var webhook = await StartAsync(("QuayAdmission__InlineBudget", "00:00:20"));
        using var client = certificates.Client(webhook.HttpsPort);

        var review = AdmitAsync(client, Pods.Json(name: "web-0", robotAccount: Robot), "uid-in-flight");
        await quay.WaitForExchangesAsync(1).WaitAsync(Deadline);
        Assert.False(review.IsCompleted);
        var exit = webhook.TerminateAsync(Deadline);

        var answer = await review.WaitAsync(Deadline);
        Assert.Equal("uid-in-flight", answer["uid"]!.GetValue<string>());
        Assert.True(answer["allowed"]!.GetValue<bool>());
        // The name is deterministic: it is injected even though the token never came.
        Assert.NotNull(answer["patch"]);
        Assert.NotEmpty(answer["warnings"]!.AsArray());
        Assert.Equal(0, await exit);
        Assert.Contains(Lines(), line => line.Contains("Application is shutting down", StringComparison.Ordinal));
    }

    [NativeFact]
    public async Task The_background_half_renews_the_Lease_and_a_Secret_in_place_and_recreates_a_deleted_one()
    {
        // Real time, so everything is short: 5 s leases, 20 s tokens renewed at half-life.
        quay.TokenLifetime = TimeSpan.FromSeconds(20);
        await using var webhook = await StartAsync(
            ("QuayAdmission__InlineBudget", "00:00:20"),
            ("QuayAdmission__MinRemaining", "00:00:02"),
            ("QuayAdmission__Refresher__Interval", "00:00:01"),
            ("QuayAdmission__Refresher__LeaseDuration", "00:00:05"),
            ("QuayAdmission__Refresher__RenewDeadline", "00:00:04"),
            ("QuayAdmission__Refresher__RetryPeriod", "00:00:01"));
        using var client = certificates.Client(webhook.HttpsPort);

        // The Lease: taken, then renewed by the same holder over several LeaseDurations, never lost.
        Assert.True(await Eventually.TrueAsync(() => kube.GetLease(LeaseNamespace, "quay-admission-refresher")?.Spec?.HolderIdentity == Identity, Deadline),
            "the refresher never took its Lease");
        var taken = kube.GetLease(LeaseNamespace, "quay-admission-refresher")!.Spec;
        Assert.True(await Eventually.TrueAsync(() => kube.GetLease(LeaseNamespace, "quay-admission-refresher")!.Spec.RenewTime > taken.RenewTime!.Value.AddSeconds(15), Deadline),
            "the Lease was not renewed for three LeaseDurations");
        var renewed = kube.GetLease(LeaseNamespace, "quay-admission-refresher")!;
        Assert.Equal((Identity, taken.AcquireTime, taken.LeaseTransitions), (renewed.Spec.HolderIdentity, renewed.Spec.AcquireTime, renewed.Spec.LeaseTransitions));
        Assert.Contains(renewed.Metadata.ManagedFields, m => m.Manager == "quay-admission");

        // A Secret a running Pod lists: renewed in place at half its life.
        await AdmitAsync(client, Pods.Json(name: "web-0", robotAccount: Robot), "uid-web-0");
        var first = Assert.Single(kube.Secrets);
        var name = first.Metadata.Name;
        Assert.NotNull(ExpiresAt(first));
        kube.AddPod(RunningPodListing(name));
        Assert.True(await Eventually.TrueAsync(() => quay.ExchangeCount >= 2 && ExpiresAt(kube.GetSecret("team-a", name)) > ExpiresAt(first), Deadline),
            "the Secret was not renewed");
        Assert.Equal(first.Metadata.Uid, kube.GetSecret("team-a", name)!.Metadata.Uid);

        // Deleted by someone else while the Pod lists it: re-created, with a token.
        Assert.True(kube.DeleteSecret("team-a", name));
        Assert.True(await Eventually.TrueAsync(() => kube.GetSecret("team-a", name) is { } back && back.Metadata.Uid != first.Metadata.Uid && ExpiresAt(back) is not null, Deadline),
            "the deleted Secret was not re-created with a token");

        Assert.Equal(0, await webhook.TerminateAsync(Deadline));
        AssertNoErrorsLogged();
        // What the real API server's objects broke before (issue 15): a type the JSON context did not know.
        Assert.DoesNotContain(Lines(), line => line.Contains("NotSupportedException", StringComparison.Ordinal));
    }

    private static DateTimeOffset? ExpiresAt(V1Secret? secret) =>
        secret?.Metadata.Annotations?.TryGetValue("quay-admission.io/expires-at", out var text) == true
            ? DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture)
            : null;

    /// <summary>A running Pod in team-a that lists the Secret, labelled as the webhook's patch labels it.</summary>
    private static V1Pod RunningPodListing(string secretName) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "web-0",
            NamespaceProperty = "team-a",
            Labels = new Dictionary<string, string> { ["quay-admission.io/injected"] = "true" },
            Annotations = new Dictionary<string, string> { ["quay-admission.io/robot-account"] = Robot },
        },
        Spec = new V1PodSpec
        {
            ServiceAccountName = "default",
            NodeName = "node-a",
            Containers = [new V1Container { Name = "app", Image = "quay.io/acme/app:1" }],
            ImagePullSecrets = [new V1LocalObjectReference { Name = secretName }],
        },
        Status = new V1PodStatus { Phase = "Running" },
    };

    private async Task<WebhookProcess> StartAsync(params (string Name, string Value)[] settings)
    {
        var environment = WebhookEnvironment.ForStandIns(kube, quay, certificates, work).WithReadableLogs();
        environment["POD_NAMESPACE"] = LeaseNamespace;
        environment["POD_NAME"] = Identity;
        foreach (var (name, value) in settings)
            environment[name] = value;
        return await WebhookProcess.StartAsync(NativeFactAttribute.Executable(), environment, line =>
        {
            lock (log)
                log.Add(line);
        });
    }

    private static async Task<JsonNode> AdmitAsync(HttpClient client, string pod, string uid)
    {
        using var content = new StringContent(Reviews.Create(pod, uid), Encoding.UTF8, "application/json");
        using var http = await client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
        var body = await http.Content.ReadAsStringAsync();
        Assert.True(http.StatusCode == HttpStatusCode.OK, $"{(int)http.StatusCode}: {body}");
        return JsonNode.Parse(body)!["response"]!;
    }

    private static HttpClient HealthClient(WebhookProcess webhook) => webhook.HealthClient(Deadline);

    private List<string> Lines()
    {
        lock (log)
            return [.. log];
    }

    /// <summary>What a trimmed-away type or missing metadata looks like at run time: an error logged by some background loop.</summary>
    private void AssertNoErrorsLogged() =>
        Assert.DoesNotContain(Lines(), line => line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal));
}
