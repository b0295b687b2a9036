using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

public class TokenFailureTests
{
    public static TheoryData<string> Failures => ["untrusted", "500", "never", "garbage", "reset", "no-exp"];

    private static async Task<WebhookHost> StartAsync(string failure, string policy)
    {
        var host = await WebhookHost.StartAsync(new Dictionary<string, string?> { ["QuayAdmission:OnTokenFailure"] = policy });
        // Untrusted: the robot federates with another namespace's ServiceAccount, not this pod's.
        host.Trust("acme+puller", ns: failure == "untrusted" ? "other-team" : "team-a");
        host.Quay.Behaviour = failure switch
        {
            "untrusted" => QuayBehaviour.Normal,
            "500" => QuayBehaviour.Status(500, """{"error":"internal server error"}"""),
            "never" => QuayBehaviour.Never,
            "garbage" => QuayBehaviour.Garbage,
            "reset" => QuayBehaviour.Reset,
            "no-exp" => QuayBehaviour.TokenWithoutExp,
            _ => throw new ArgumentOutOfRangeException(nameof(failure)),
        };
        return host;
    }

    /// <summary>Admits a pod; when Quay never answers, moves the clock past the inline budget once Quay holds the call.</summary>
    private static async Task<AdmissionResult> AdmitAsync(WebhookHost host, string pod)
    {
        var admission = host.AdmitAsync(pod);
        Assert.True(await Eventually.TrueAsync(() => admission.IsCompleted || host.Quay.ExchangeCount > 0));
        if (host.Quay.Behaviour.Kind == QuayBehaviourKind.Never)
        {
            Assert.False(admission.IsCompleted, "admission answered before its budget ran out");
            host.Time.Advance(WebhookHost.InlineBudget);
        }
        var finished = await Task.WhenAny(admission, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.Same(admission, finished);
        return await admission;
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Inject_admits_with_the_name_a_warning_and_a_placeholder(string failure)
    {
        await using var host = await StartAsync(failure, "Inject");
        var pod = Pods.Json();

        var result = await AdmitAsync(host, pod);

        Assert.True(result.Allowed);
        var name = PullSecretKey.NameFor("default", host.RegistryHost, "acme+puller");
        Assert.Equal(name, result.Apply(pod)["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("acme+puller", warning, StringComparison.Ordinal);
        Assert.True(warning.Length < 120, warning);

        Assert.True(await Eventually.TrueAsync(() => host.Kube.GetSecret("team-a", name) is not null), "no placeholder");
        var placeholder = host.Kube.GetSecret("team-a", name)!;
        Assert.Null(PullSecretManifest.ExpiresAt(placeholder));
        Assert.Equal("""{"auths":{}}""", System.Text.Encoding.UTF8.GetString(placeholder.Data[".dockerconfigjson"]));
        AssertNoTokenIn(host, warning);
    }

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task Deny_rejects_with_a_readable_reason(string failure)
    {
        await using var host = await StartAsync(failure, "Deny");

        var result = await AdmitAsync(host, Pods.Json());

        Assert.False(result.Allowed);
        Assert.Contains("acme+puller", result.Message, StringComparison.Ordinal);
        Assert.Equal(failure == "untrusted" ? 403 : 503, result.Code);
        AssertNoTokenIn(host, result.Message!);
    }

    [Fact]
    public async Task Untrusted_subject_carries_quays_reason()
    {
        await using var host = await StartAsync("untrusted", "Deny");
        var result = await AdmitAsync(host, Pods.Json());
        Assert.Contains("Quay answered 400", result.Message, StringComparison.Ordinal);
        Assert.Contains("issuer and subject", result.Message, StringComparison.Ordinal);
    }

    /// <summary>Every JWT starts with "eyJ" (base64 of '{"'): none may reach a log line, warning or message.</summary>
    private static void AssertNoTokenIn(WebhookHost host, string shown)
    {
        Assert.DoesNotContain("eyJ", shown, StringComparison.Ordinal);
        Assert.All(host.LogLines(), line => Assert.DoesNotContain("eyJ", line, StringComparison.Ordinal));
    }
}
