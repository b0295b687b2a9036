using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

/// <summary>
/// A key whose exchange just failed is not retried by every admission: until its retry time, admission
/// answers from the failure with the OnTokenFailure policy, without a TokenRequest or a Quay call.
/// </summary>
public sealed class FailureBackoffTests
{
    private const string Robot = "acme+puller";
    private static readonly TokenOptions Defaults = new();

    private static async Task<WebhookHost> StartAsync(string policy = "Inject")
    {
        var host = await WebhookHost.StartAsync(new Dictionary<string, string?> { ["QuayAdmission:OnTokenFailure"] = policy });
        host.Quay.AddRobot(Robot); // the robot exists, but trusts no ServiceAccount yet: Quay refuses (400)
        return host;
    }

    /// <summary>Calls the webhook made to the API beyond posting events (events are sent in the background, deduplicated).</summary>
    private static int ApiCalls(WebhookHost host) =>
        host.Kube.Requests.Count(r => r.Operation is not ("events.create" or "events.patch"));

    private static void ResetCounts(WebhookHost host)
    {
        host.Kube.ResetCounts();
        host.Quay.ResetCounts();
    }

    private static string SecretName(WebhookHost host, string robot = Robot) => PullSecretKey.NameFor("default", host.RegistryHost, robot);

    [Fact]
    public async Task A_rate_limited_exchange_waits_the_retry_after_it_was_given_not_a_refusal_and_not_less()
    {
        await using var host = await StartAsync();
        host.Trust(Robot);
        host.Quay.Behaviour = QuayBehaviour.RateLimited(TimeSpan.FromSeconds(90));

        var limited = await host.AdmitAsync(Pods.Json());
        Assert.Contains("429", Assert.Single(limited.Warnings), StringComparison.Ordinal);
        host.Quay.Behaviour = QuayBehaviour.Normal;

        // The transient backoff (2 s doubling) would retry by now: the 90 s asked for holds it back.
        host.Time.Advance(TimeSpan.FromSeconds(85));
        Assert.Single((await host.AdmitAsync(Pods.Json(name: "web-1"))).Warnings);
        Assert.Equal(1, host.Quay.ExchangeCount);

        host.Time.Advance(TimeSpan.FromSeconds(6));
        var after = await host.AdmitAsync(Pods.Json(name: "web-2"));
        Assert.Empty(after.Warnings);
        Assert.Equal(2, host.Quay.ExchangeCount);
    }

    [Theory]
    [InlineData("Inject")]
    [InlineData("Deny")]
    public async Task After_a_refusal_further_admissions_make_no_call_and_get_the_policys_answer(string policy)
    {
        await using var host = await StartAsync(policy);
        var first = await host.AdmitAsync(Pods.Json());
        Assert.Equal(1, host.Quay.ExchangeCount);
        Assert.True(await Eventually.TrueAsync(() => host.Kube.GetSecret("team-a", SecretName(host)) is not null), "no placeholder");
        ResetCounts(host);

        var sequential = new List<AdmissionResult>();
        for (var i = 0; i < 5; i++)
            sequential.Add(await host.AdmitAsync(Pods.Json(name: $"web-{i}")));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => host.AdmitAsync(Pods.Json(name: null, generateName: "web-"))));

        Assert.Equal(0, host.Quay.ExchangeCount);
        Assert.Equal(0, host.Kube.Count("tokenrequest"));
        Assert.Equal(0, ApiCalls(host));
        foreach (var result in sequential.Concat(concurrent).Prepend(first))
        {
            if (policy == "Inject")
            {
                Assert.True(result.Allowed, result.Body);
                Assert.Equal(SecretName(host), result.Apply(Pods.Json())["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
                var warning = Assert.Single(result.Warnings);
                Assert.Contains("next try after", warning, StringComparison.Ordinal);
                Assert.Contains(Robot, warning, StringComparison.Ordinal);
                Assert.True(warning.Length < 120, warning);
                Assert.DoesNotContain("eyJ", warning, StringComparison.Ordinal);
            }
            else
            {
                Assert.False(result.Allowed, result.Body);
                Assert.Equal(403, result.Code);
                Assert.Contains("Quay answered 400", result.Message, StringComparison.Ordinal); // the remembered reason
                Assert.Contains("next try after", result.Message, StringComparison.Ordinal);
                Assert.DoesNotContain("eyJ", result.Message, StringComparison.Ordinal);
            }
        }
        if (policy == "Inject")
            Assert.Null(PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", SecretName(host))!)); // the placeholder stays
        Assert.All(host.LogLines(), line => Assert.DoesNotContain("eyJ", line, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Once_the_backoff_passes_exactly_one_exchange_serves_every_waiting_admission()
    {
        await using var host = await StartAsync();
        await host.AdmitAsync(Pods.Json());
        host.Trust(Robot); // the org admin fixes the federation
        ResetCounts(host);

        // Short of the shortest jittered pause: still backing off.
        host.Time.Advance(Defaults.RefusalBackoff * 0.75);
        Assert.Single((await host.AdmitAsync(Pods.Json(name: "early"))).Warnings);
        Assert.Equal(0, host.Quay.ExchangeCount);

        host.Time.Advance(Defaults.RefusalBackoff * 0.5);
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => host.AdmitAsync(Pods.Json(name: null, generateName: "web-"))));

        Assert.All(results, r => Assert.True(r.Allowed && r.HasPatch && r.Warnings.Count == 0, r.Body));
        Assert.Equal(1, host.Quay.ExchangeCount);
        Assert.Equal(1, host.Kube.Count("tokenrequest"));
        Assert.NotNull(PullSecretManifest.ExpiresAt(host.Kube.GetSecret("team-a", SecretName(host))!));
    }

    [Fact]
    public async Task A_transient_failure_backs_off_less_than_a_refusal()
    {
        await using var host = await StartAsync();
        const string flaky = "acme+flaky";
        host.Quay.Behaviour = QuayBehaviour.Status(500, """{"error":"internal server error"}""");
        Assert.Single((await host.AdmitAsync(Pods.Json(robotAccount: flaky))).Warnings);
        host.Quay.Behaviour = QuayBehaviour.Normal;
        Assert.Single((await host.AdmitAsync(Pods.Json(robotAccount: Robot))).Warnings); // refused: not trusted
        host.Trust(flaky);
        host.Trust(Robot);
        ResetCounts(host);

        // Past the longest jittered pause after a fault, short of the shortest after a refusal.
        host.Time.Advance(Defaults.FailureBackoff * 1.25);
        var retried = await host.AdmitAsync(Pods.Json(robotAccount: flaky, name: "web-1"));
        var refused = await host.AdmitAsync(Pods.Json(robotAccount: Robot, name: "web-2"));

        Assert.Empty(retried.Warnings);
        Assert.Contains("next try after", Assert.Single(refused.Warnings), StringComparison.Ordinal);
        Assert.Equal([flaky], host.Quay.Exchanges.Select(e => e.Robot));
    }

    [Fact]
    public async Task A_background_renewal_ignores_the_backoff_and_its_success_lets_admission_through()
    {
        await using var host = await StartAsync();
        await host.AdmitAsync(Pods.Json());
        host.Trust(Robot);
        ResetCounts(host);
        var provisioner = host.Factory.Services.GetRequiredService<PullSecretProvisioner>();
        var key = new PullSecretKey("team-a", "default", host.RegistryHost, Robot);

        var renewed = await provisioner.RenewAsync(key, DateTimeOffset.MaxValue).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.IsType<TokenStatus.Ready>(renewed);
        Assert.Equal(1, host.Quay.ExchangeCount);
        var next = await host.AdmitAsync(Pods.Json(name: "web-1"));
        Assert.True(next.Allowed && next.HasPatch, next.Body);
        Assert.Empty(next.Warnings);
        Assert.Equal(1, host.Quay.ExchangeCount);
    }

    [Fact]
    public async Task A_failed_background_renewal_keeps_admission_backing_off()
    {
        await using var host = await StartAsync();
        await host.AdmitAsync(Pods.Json());
        var provisioner = host.Factory.Services.GetRequiredService<PullSecretProvisioner>();
        var key = new PullSecretKey("team-a", "default", host.RegistryHost, Robot);
        ResetCounts(host);

        var renewed = await provisioner.RenewAsync(key, DateTimeOffset.MaxValue).WaitAsync(TimeSpan.FromSeconds(30));
        var next = await host.AdmitAsync(Pods.Json(name: "web-1"));

        Assert.IsType<TokenStatus.Unavailable>(renewed);
        Assert.Equal(1, host.Quay.ExchangeCount); // the renewal's, not the admission's
        Assert.Contains("next try after", Assert.Single(next.Warnings), StringComparison.Ordinal);
    }
}
