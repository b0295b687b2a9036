using System.Text.Json.Nodes;
using QuayAdmission.Admission;
using QuayAdmission.PullSecrets;
using QuayAdmission.Robots;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Admission;

/// <summary>
/// The decision as a table: (the review's facts, the keys, their tokens, the rules) to the answer,
/// with no host, no socket and no clock. Each row names its inputs; the columns after the policy
/// are what the answer must be.
/// </summary>
public sealed class AdmissionDecisionTests
{
    private const string Host = "quay.example.com";
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly PullSecretKey Puller = new("team-a", "default", Host, "acme+puller");
    private static readonly PullSecretKey Builder = new("team-a", "default", Host, "acme+builder");

    private static ReviewFacts Review(string name) => name switch
    {
        "pod" => Facts.Of(Reviews.Create(Pods.Json())),
        "dry-run" => Facts.Of(Reviews.Create(Pods.Json(), dryRun: true)),
        "listed" => Facts.Of(Reviews.Create(Listed())),
        "mirror" => Facts.Of(Reviews.Create(Pods.Json(annotations: new Dictionary<string, string> { ["kubernetes.io/config.mirror"] = "x" }))),
        "excluded" => Facts.Of(Reviews.Create(Pods.Json(ns: "kube-system"))),
        "excluded-unreadable" => Facts.Of(Reviews.Create("""{"metadata":{"namespace":"kube-system"},"spec":[]}""")),
        "foreign" => Facts.Of(Reviews.Create(Pods.Json(ns: "team-b"), ns: "team-a")),
        "update" => Facts.Of(Reviews.Create(Pods.Json(), operation: "UPDATE")),
        "unreadable" => Facts.Of(Reviews.Create("""{"metadata":{"namespace":"team-a"},"spec":{"imagePullSecrets":"x"}}""")),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>A Pod patched already: it lists the name and carries the label, so it needs no operation.</summary>
    private static string Listed()
    {
        var pod = JsonNode.Parse(Pods.Json(pullSecrets: [Puller.SecretName]))!;
        pod["metadata"]!["labels"] = new JsonObject { ["quay-admission.io/injected"] = "true" };
        return pod.ToJsonString();
    }

    private static RobotKeys Keys(string name) => name switch
    {
        "none" => RobotKeys.None,
        "one" => new([Puller], null),
        "two" => new([Puller, Builder], null),
        "refused" => new([], new ReferenceError(403, "ServiceAccount team-a/default: robot account acme+x is not allowed")),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static TokenStatus Token(string name) => name switch
    {
        "cached" => new TokenStatus.Ready(Now.AddHours(1), FromCache: true),
        "minted" => new TokenStatus.Ready(Now.AddHours(1)),
        "stale" => new TokenStatus.Ready(Now.AddMinutes(5), RenewalError: "Quay answered 500"),
        "fault" => new TokenStatus.Unavailable("no token within 2 s", Refused: false),
        "refusal" => new TokenStatus.Unavailable("Quay answered 400: untrusted", Refused: true, RetryAt: Now.AddSeconds(30)),
        "long" => new TokenStatus.Unavailable(new string('x', 300), Refused: false),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static AdmissionRules Rules(string policy) =>
        new(new HashSet<string>(["kube-system", "quay-admission"], StringComparer.Ordinal), Enum.Parse<TokenFailurePolicy>(policy));

    [Theory]
    // review, keys, tokens (one per key), OnTokenFailure | answer, code, message, warnings, operations, events, grounds
    [InlineData("foreign", "none", "", "Inject", "denied", 400, "differs from the request's namespace", 0, 0, 0, AdmissionGrounds.ForeignNamespace)]
    [InlineData("excluded", "one", "", "Deny", "allowed", 0, null, 0, 0, 0, AdmissionGrounds.ExcludedNamespace)]
    [InlineData("excluded-unreadable", "none", "", "Inject", "allowed", 0, null, 0, 0, 0, AdmissionGrounds.ExcludedNamespace)]
    [InlineData("update", "one", "", "Inject", "allowed", 0, null, 0, 0, 0, AdmissionGrounds.NotPodCreate)]
    [InlineData("unreadable", "one", "", "Inject", "denied", 400, "spec.imagePullSecrets is not an array", 0, 0, 0, AdmissionGrounds.Unreadable)]
    [InlineData("mirror", "one", "cached", "Inject", "allowed", 0, null, 0, 0, 0, AdmissionGrounds.Pod)]
    [InlineData("pod", "none", "", "Inject", "allowed", 0, null, 0, 0, 0, AdmissionGrounds.Pod)]
    [InlineData("pod", "refused", "", "Inject", "denied", 403, "ServiceAccount team-a/default: robot account acme+x is not allowed", 0, 0, 0, AdmissionGrounds.Pod)]
    [InlineData("pod", "one", "cached", "Inject", "patched", 0, null, 0, 2, 0, AdmissionGrounds.Pod)]
    [InlineData("pod", "one", "minted", "Deny", "patched", 0, null, 0, 2, 0, AdmissionGrounds.Pod)]
    [InlineData("pod", "one", "stale", "Deny", "patched", 0, null, 0, 2, 0, AdmissionGrounds.Pod)]
    [InlineData("pod", "two", "cached,minted", "Inject", "patched", 0, null, 0, 2, 0, AdmissionGrounds.Pod)]
    [InlineData("listed", "one", "cached", "Inject", "allowed", 0, null, 0, 0, 0, AdmissionGrounds.Pod)]
    [InlineData("dry-run", "one", "", "Deny", "patched", 0, null, 0, 2, 0, AdmissionGrounds.Pod)]
    // OnTokenFailure=Inject: the name anyway, a warning and an event per key without a token.
    [InlineData("pod", "one", "fault", "Inject", "patched", 0, null, 1, 2, 1, AdmissionGrounds.Pod)]
    [InlineData("pod", "two", "refusal,fault", "Inject", "patched", 0, null, 2, 2, 2, AdmissionGrounds.Pod)]
    [InlineData("pod", "two", "cached,refusal", "Inject", "patched", 0, null, 1, 2, 1, AdmissionGrounds.Pod)]
    // OnTokenFailure=Deny: the first key without a token is the reason; 403 when refused, 503 when it may come.
    [InlineData("pod", "one", "fault", "Deny", "denied", 503, "no Quay token for acme+puller: no token within 2 s", 0, 0, 1, AdmissionGrounds.Pod)]
    [InlineData("pod", "two", "cached,refusal", "Deny", "denied", 403, "no Quay token for acme+builder, next try after 12:00:30Z: Quay answered 400: untrusted", 0, 0, 1, AdmissionGrounds.Pod)]
    [InlineData("pod", "two", "refusal,fault", "Deny", "denied", 403, "no Quay token for acme+puller, next try after 12:00:30Z", 0, 0, 1, AdmissionGrounds.Pod)]
    public void Decides(string review, string keys, string tokens, string policy,
        string answer, int code, string? message, int warnings, int operations, int events, AdmissionGrounds grounds)
    {
        var statuses = tokens.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Token).ToList();

        var verdict = AdmissionDecision.Decide(Review(review), Keys(keys), statuses, Rules(policy));

        Assert.Equal(grounds, verdict.Grounds);
        Assert.Equal(events, verdict.TokenFailures.Count);
        switch (verdict.Outcome)
        {
            case AdmissionOutcome.Denied denied:
                Assert.Equal(("denied", code), (answer, denied.Code));
                Assert.Contains(message!, denied.Message, StringComparison.Ordinal);
                break;
            case AdmissionOutcome.Patched patched:
                Assert.Equal(answer, patched.Operations.Count > 0 ? "patched" : "allowed");
                Assert.Equal((operations, warnings), (patched.Operations.Count, patched.Warnings.Count));
                Assert.All(patched.Operations, op => Assert.Equal("add", op.Op));
                break;
            case AdmissionOutcome.Allowed allowed:
                Assert.Equal(("allowed", 0, warnings), (answer, operations, allowed.Warnings.Count));
                break;
        }
    }

    [Fact]
    public void The_patch_lists_every_key_and_the_event_names_the_key_without_a_token()
    {
        var pod = Pods.Json();
        var verdict = AdmissionDecision.Decide(Review("pod"), Keys("two"), [Token("cached"), Token("fault")], Rules("Inject"));

        var patched = Assert.IsType<AdmissionOutcome.Patched>(verdict.Outcome);
        var result = JsonPatchApplier.Apply(pod, QuayAdmission.Patching.PatchOperation.Serialize(patched.Operations));
        Assert.Equal([Puller.SecretName, Builder.SecretName], result["spec"]!["imagePullSecrets"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()));
        Assert.Equal("true", result["metadata"]!["labels"]!["quay-admission.io/injected"]!.GetValue<string>());
        Assert.Equal(Builder, Assert.Single(verdict.TokenFailures).Key);
        Assert.Equal("quay-admission: no token yet for acme+builder (no token within 2 s)", Assert.Single(patched.Warnings));
    }

    [Fact]
    public void A_warning_is_cut_to_what_kubectl_shows_keeping_the_robot()
    {
        var verdict = AdmissionDecision.Decide(Review("pod"), Keys("one"), [Token("long")], Rules("Inject"));

        var warning = Assert.Single(verdict.Outcome.Warnings);
        Assert.Equal(AdmissionDecision.MaxWarningLength, warning.Length);
        Assert.StartsWith("quay-admission: no token yet for acme+puller (xxx", warning, StringComparison.Ordinal);
        Assert.EndsWith("...)", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokens_must_answer_for_every_key_unless_dry_run() =>
        Assert.Throws<ArgumentException>(() => AdmissionDecision.Decide(Review("pod"), Keys("two"), [Token("cached")], Rules("Inject")));

    [Theory]
    [InlineData("pod", false)]
    [InlineData("mirror", true)]
    [InlineData("excluded", true)]
    [InlineData("foreign", true)]
    [InlineData("update", true)]
    [InlineData("unreadable", true)]
    public void Only_a_readable_Pod_that_is_not_a_mirror_needs_its_annotation_looked_up(string review, bool settled) =>
        Assert.Equal(settled, AdmissionDecision.Settle(Review(review), Rules("Inject")) is not null);

    [Theory]
    [InlineData("Inject", true, 0, "quay-admission: internal error; pod admitted unchanged")]
    [InlineData("Deny", false, 500, "quay-admission: internal error")]
    public void A_crash_is_answered_as_OnTokenFailure_says(string policy, bool allowed, int code, string text)
    {
        var outcome = AdmissionDecision.Crashed(Rules(policy));

        if (allowed)
            Assert.Equal(text, Assert.Single(Assert.IsType<AdmissionOutcome.Allowed>(outcome).Warnings));
        else
            Assert.Equal((code, text), (Assert.IsType<AdmissionOutcome.Denied>(outcome).Code, ((AdmissionOutcome.Denied)outcome).Message));
    }
}
