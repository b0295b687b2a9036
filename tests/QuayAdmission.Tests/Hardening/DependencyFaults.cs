using System.Text;
using System.Text.Json;
using k8s;
using Microsoft.Extensions.DependencyInjection;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Hardening;

/// <summary>
/// The Kubernetes API or Quay failing, slow or hanging: admission still answers once the inline budget has
/// passed on the fake clock, with the configured failure behaviour, and once the fault ends the next pod of
/// the same key gets a token without a warning. The cases are spread over a few classes so their waits overlap.
/// </summary>
internal static class DependencyFaults
{
    internal const string Robot = "acme+puller";

    public static TheoryData<string, string> For(params string[] faults)
    {
        var data = new TheoryData<string, string>();
        foreach (var fault in faults)
            foreach (var policy in new[] { "Inject", "Deny" })
                data.Add(fault, policy);
        return data;
    }

    /// <summary>Admits a pod under <paramref name="fault"/>, checks the policy's answer, ends the fault and checks the next pod gets a token.</summary>
    public static async Task AnswersWithThePolicyAndRecoversAsync(string fault, string policy)
    {
        await using var host = await StartAsync(policy);
        var pending = Inflict(host, fault);
        var ended = AttemptsEnded(host);

        var result = await host.AdmitPastBudgetAsync(Pods.Json(), pending);

        if (policy == "Inject")
        {
            Assert.True(result.Allowed, result.Body);
            Assert.Equal(host.SecretName(Robot), result.Apply(Pods.Json())["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
            var warning = Assert.Single(result.Warnings);
            Assert.Contains(Robot, warning, StringComparison.Ordinal);
            Assert.InRange(warning.Length, 1, 119);
            Assert.DoesNotContain("eyJ", warning, StringComparison.Ordinal);
        }
        else
        {
            Assert.False(result.Allowed, result.Body);
            Assert.Equal(503, result.Code);
            Assert.Contains(Robot, result.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("eyJ", result.Message, StringComparison.Ordinal);
        }

        await EndFaultAsync(host, ended);
        var next = await host.AdmitAsync(Pods.Json(name: "web-1")).WaitAsync(HardeningHost.NoHang);

        Assert.True(next.Allowed && next.HasPatch, next.Body);
        Assert.Empty(next.Warnings);
        AssertSecretHoldsTheLastToken(host);
    }

    /// <summary>Starts the fault; returns when its call is held (for the ones that hang), else never.</summary>
    internal static Func<bool> Inflict(WebhookHost host, string fault)
    {
        var (target, kind) = (fault.Split(' ')[0], fault.Split(' ')[1]);
        if (target == "quay")
        {
            host.Quay.Behaviour = kind switch
            {
                "slow" => QuayBehaviour.Delay(WebhookHost.InlineBudget + TimeSpan.FromSeconds(1)),
                "reset" => QuayBehaviour.Reset,
                _ => QuayBehaviour.Status(503, """{"error":"service unavailable"}"""),
            };
            return kind == "slow" ? () => host.Quay.ExchangeCount > 0 : () => false;
        }
        host.Kube.SetFault(target, kind switch
        {
            "hang" => Fault.Hang,
            var code => Fault.Status(int.Parse(code, System.Globalization.CultureInfo.InvariantCulture)),
        });
        return kind == "hang" ? () => host.Kube.Count(target) > 0 : () => false;
    }

    /// <summary>How many provisioning attempts have ended so far, one way or another (PullSecretLog event ids).</summary>
    internal static int AttemptsEnded(WebhookHost host) =>
        host.Logs.GetSnapshot().Count(r => r.Id.Id is TokenWritten or ProvisionFailed or RenewalFailedKeptToken);

    /// <summary>
    /// Clears every fault, waits until the attempt that met it has ended (a hung call ends at the client's timeout),
    /// and moves the clock past the backoff that failure put the key in: until then admission answers from the failure.
    /// </summary>
    internal static async Task EndFaultAsync(WebhookHost host, int endedBefore)
    {
        host.Kube.ClearFaults();
        host.Quay.Behaviour = QuayBehaviour.Normal;
        var provisioner = host.Factory.Services.GetRequiredService<PullSecretProvisioner>();
        var key = new PullSecretKey("team-a", "default", host.RegistryHost, Robot);
        Assert.True(await Eventually.TrueAsync(() => AttemptsEnded(host) > endedBefore && !provisioner.InFlight(key), HardeningHost.NoHang),
            "the attempt that met the fault never ended");
        host.Time.Advance(PastFirstBackoff);
    }

    /// <summary>Past the first pause after any failure, refusals included, with the most jitter.</summary>
    internal static readonly TimeSpan PastFirstBackoff = new TokenOptions().RefusalBackoff * 1.25;

    internal static void AssertSecretHoldsTheLastToken(WebhookHost host)
    {
        var secret = host.Kube.GetSecret("team-a", host.SecretName(Robot));
        Assert.NotNull(secret);
        Assert.NotNull(PullSecretManifest.ExpiresAt(secret));
        using var config = JsonDocument.Parse(secret.Data[WellKnown.DockerConfigJsonKey]);
        var password = config.RootElement.GetProperty("auths").GetProperty(host.RegistryHost).GetProperty("password").GetString();
        Assert.Equal(host.Quay.Exchanges.Last(e => e.Succeeded).IssuedToken, password);
    }

    // PullSecretLog event ids: the provisioning attempt ended one way or another.
    private const int TokenWritten = 2001;
    private const int ProvisionFailed = 2002;
    private const int RenewalFailedKeptToken = 2003;

    /// <summary>
    /// A webhook whose Kubernetes client gives up on a hung call after <see cref="ApiTimeout"/>, as production's
    /// does after 15 s (KubernetesSetup); WebhookHost's client keeps the library's 100 s default.
    /// </summary>
    internal static async Task<WebhookHost> StartAsync(string policy, IDictionary<string, string?>? settings = null)
    {
        var config = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { ["QuayAdmission:OnTokenFailure"] = policy };
        var host = await WebhookHost.StartAsync(config, services: WithApiTimeout);
        host.Trust(Robot);
        return host;
    }

    internal static readonly TimeSpan ApiTimeout = TimeSpan.FromSeconds(1);

    internal static void WithApiTimeout(IServiceCollection services)
    {
        var fake = services.Last(d => d.ServiceType == typeof(KubernetesClientConfiguration));
        services.AddSingleton(sp =>
        {
            var config = (KubernetesClientConfiguration)fake.ImplementationFactory!(sp);
            config.HttpClientTimeout = ApiTimeout;
            return config;
        });
    }
}

public sealed class TokenRequestFaultTests
{
    public static TheoryData<string, string> Faults => DependencyFaults.For("tokenrequest 500", "tokenrequest 429", "tokenrequest hang");

    [Theory]
    [MemberData(nameof(Faults))]
    public Task Admission_answers_with_the_policy_and_the_next_pod_gets_a_token_once_the_fault_ends(string fault, string policy) =>
        DependencyFaults.AnswersWithThePolicyAndRecoversAsync(fault, policy);
}

public sealed class SecretApiFaultTests
{
    public static TheoryData<string, string> Faults => DependencyFaults.For(
        "secrets.get 500", "secrets.get 429", "secrets.get hang", "secrets.create 500", "secrets.create 429", "secrets.create hang");

    [Theory]
    [MemberData(nameof(Faults))]
    public Task Admission_answers_with_the_policy_and_the_next_pod_gets_a_token_once_the_fault_ends(string fault, string policy) =>
        DependencyFaults.AnswersWithThePolicyAndRecoversAsync(fault, policy);
}

public sealed class QuayFaultTests
{
    public static TheoryData<string, string> Faults => DependencyFaults.For("quay slow", "quay reset", "quay 503");

    [Theory]
    [MemberData(nameof(Faults))]
    public Task Admission_answers_with_the_policy_and_the_next_pod_gets_a_token_once_the_fault_ends(string fault, string policy) =>
        DependencyFaults.AnswersWithThePolicyAndRecoversAsync(fault, policy);
}

/// <summary>Faults while renewing a token that is still valid for a few minutes.</summary>
public sealed class RenewalFaultTests
{
    [Fact]
    public async Task A_still_valid_token_is_used_when_writing_its_renewal_fails()
    {
        await using var host = await DependencyFaults.StartAsync("Deny");
        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);
        host.Time.Advance(TimeSpan.FromMinutes(55)); // 5 minutes left: under MinRemaining, so admission renews
        host.Kube.SetFault("secrets.patch", Fault.Status(500));

        var result = await host.AdmitAsync(Pods.Json(name: "web-1")).WaitAsync(HardeningHost.NoHang);

        Assert.True(result.Allowed, result.Body);
        Assert.True(result.HasPatch);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public async Task A_still_valid_token_is_used_when_its_renewal_outlasts_the_budget()
    {
        await using var host = await DependencyFaults.StartAsync("Deny");
        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);
        host.Time.Advance(TimeSpan.FromMinutes(55));
        host.Kube.SetFault("tokenrequest", Fault.Hang);

        var result = await host.AdmitPastBudgetAsync(Pods.Json(name: "web-1"), () => host.Kube.Count("tokenrequest") > 1);

        Assert.True(result.Allowed, result.Body);
        Assert.True(result.HasPatch);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public async Task After_a_hung_renewal_the_next_pod_gets_a_renewed_token()
    {
        await using var host = await DependencyFaults.StartAsync("Inject");
        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);
        var first = host.Kube.GetSecret("team-a", host.SecretName(DependencyFaults.Robot))!;
        host.Time.Advance(TimeSpan.FromMinutes(55));
        host.Kube.SetFault("tokenrequest", Fault.Hang);
        var ended = DependencyFaults.AttemptsEnded(host);

        var degraded = await host.AdmitPastBudgetAsync(Pods.Json(name: "web-1"), () => host.Kube.Count("tokenrequest") > 1);
        Assert.True(degraded.Allowed && degraded.HasPatch, degraded.Body);

        await DependencyFaults.EndFaultAsync(host, ended);
        var next = await host.AdmitAsync(Pods.Json(name: "web-2")).WaitAsync(HardeningHost.NoHang);

        Assert.True(next.Allowed && next.HasPatch && next.Warnings.Count == 0, next.Body);
        var renewed = host.Kube.GetSecret("team-a", host.SecretName(DependencyFaults.Robot))!;
        Assert.Equal(first.Metadata.Uid, renewed.Metadata.Uid); // updated in place
        Assert.True(PullSecretManifest.ExpiresAt(renewed) > PullSecretManifest.ExpiresAt(first));
        DependencyFaults.AssertSecretHoldsTheLastToken(host);
    }
}
