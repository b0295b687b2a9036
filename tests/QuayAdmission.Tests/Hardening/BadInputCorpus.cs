using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuayAdmission.Admission;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Hardening;

/// <summary>
/// One hostile or malformed request to <c>POST /mutate</c> and the answers the contract allows for it.
/// <see cref="Accept"/> holds outcome labels as <see cref="BadInputCorpus.Classify"/> writes them:
/// an HTTP status (<c>"400"</c>, <c>"413"</c>, <c>"415"</c>), <c>"denied:400"</c>, <c>"allowed"</c> (no patch)
/// or <c>"patched"</c> (allowed with a patch). Where the contract leaves a choice (a BOM, invalid UTF-8 in a
/// field the webhook never reads) more than one label is accepted; a 5xx, a hang or a stack trace never is.
/// </summary>
public sealed record BadInputCase(string Name, byte[] Body, string? ContentType, string[] Accept, string? Uid)
{
    /// <summary>Extra assertions on a 200 answer: the pod that was sent, the answer, and our pull Secret's name.</summary>
    public Action<JsonObject, AdmissionResult, string>? Check { get; init; }

    /// <summary>The pod in the review, for <see cref="Check"/>; only for cases whose body is valid JSON.</summary>
    public JsonObject SentPod => JsonNode.Parse(Body)!["request"]!["object"]!.AsObject();

    public override string ToString() => Name;
}

/// <summary>
/// The bad-input corpus, generated in code so that its large members (3.5 MiB bodies, 10,000-deep nesting,
/// 5,000 pull secrets) need no files and the invalid byte sequences are exact. Every field the webhook
/// reads gets a wrong type; the envelope gets truncation, nesting, duplicate keys and encoding damage.
/// </summary>
public static class BadInputCorpus
{
    public const string Uid = "corpus-uid-0001";
    public const string Robot = "acme+puller";
    public const string Namespace = "team-a";

    private const string Json = "application/json";
    private const string Rejected = "400";
    private const string DeniedBadRequest = "denied:400";
    private const string Patched = "patched";
    private const string Allowed = "allowed";

    // As kube-apiserver writes JSON: "acme+puller", not "acme\u002Bpuller", so raw edits find what they look for.
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly Lazy<IReadOnlyDictionary<string, BadInputCase>> All = new(() => Build().ToDictionary(c => c.Name, StringComparer.Ordinal));

    /// <summary>Case names: theories take these, since xunit serializes theory data at discovery and the bodies are large.</summary>
    public static IEnumerable<string> Names => All.Value.Keys;

    public static BadInputCase Get(string name) => All.Value[name];

    public static int Count => All.Value.Count;

    /// <summary>The outcome label of an answer, in the vocabulary of <see cref="BadInputCase.Accept"/>.</summary>
    public static string Classify(AdmissionResult result)
    {
        if (result.Status != System.Net.HttpStatusCode.OK)
            return ((int)result.Status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!result.Allowed)
            return $"denied:{result.Code}";
        return result.HasPatch ? Patched : Allowed;
    }

    /// <summary>A valid pod of <see cref="Namespace"/> naming <see cref="Robot"/>, as a mutable tree.</summary>
    public static JsonObject Pod() => JsonNode.Parse(Pods.Json(robotAccount: Robot, ns: Namespace))!.AsObject();

    /// <summary>A valid review of <paramref name="pod"/> with uid <see cref="Uid"/>, as a mutable tree.</summary>
    public static JsonObject Review(JsonObject? pod = null) =>
        JsonNode.Parse(Reviews.Create((pod ?? Pod()).ToJsonString(), Uid))!.AsObject();

    private static IEnumerable<BadInputCase> Build()
    {
        var valid = Review().ToJsonString(Relaxed);

        // --- the envelope is not JSON, or not JSON we accept ---
        yield return Text("truncated-in-the-middle", valid[..(valid.Length / 2)], Rejected);
        yield return Text("truncated-to-an-open-brace", "{", Rejected);
        yield return Text("whitespace-only", "  \n\t ", Rejected);
        yield return Text("json-null", "null", Rejected);
        yield return Text("json-string", "\"AdmissionReview\"", Rejected);
        yield return Text("json-number-out-of-range", "1e99999", Rejected);
        yield return Text("empty-object", "{}", Rejected);
        yield return Text("trailing-garbage", valid + "xyz", Rejected);
        yield return Text("two-documents", valid + valid, Rejected);
        yield return Text("comment", "/* hi */" + valid, Rejected);
        yield return Text("trailing-comma", valid[..^1] + ",}", Rejected);
        yield return Text("single-quotes", valid.Replace('"', '\''), Rejected);
        yield return Text("nan-literal", valid.Replace("\"dryRun\":false", "\"dryRun\":NaN", StringComparison.Ordinal), Rejected);
        yield return Text("deep-nesting-10000-arrays", new string('[', 10_000) + new string(']', 10_000), Rejected);
        yield return Text("deep-nesting-10000-objects-in-the-pod", WithPodField("x-deep", new StringBuilder().Insert(0, "{\"a\":", 10_000).Append('1').Append('}', 10_000).ToString()), Rejected);
        yield return Text("deep-nesting-10000-arrays-in-annotations", valid.Replace("\"annotations\":{", "\"annotations\":{\"x\":" + new string('[', 10_000) + new string(']', 10_000) + ",", StringComparison.Ordinal), Rejected);

        // --- content type and size ---
        yield return new BadInputCase("content-type-missing", Encoding.UTF8.GetBytes(valid), null, ["415"], null);
        yield return new BadInputCase("content-type-json-patch", Encoding.UTF8.GetBytes(valid), "application/json-patch+json", ["415"], null);
        yield return new BadInputCase("content-type-garbage", Encoding.UTF8.GetBytes(valid), "}}not a media type{{", ["415"], null);
        yield return new BadInputCase("content-type-with-charset", Encoding.UTF8.GetBytes(valid), "application/json; charset=utf-8", [Patched], Uid);
        yield return new BadInputCase("one-byte-over-the-cap", Padded(AdmissionEndpoint.MaxBodyBytes + 1), Json, ["413"], null);
        yield return new BadInputCase("exactly-the-cap", Padded(AdmissionEndpoint.MaxBodyBytes), Json, [Patched], Uid);

        // --- encoding damage ---
        yield return Bytes("utf8-bom", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(valid)], Rejected, Patched);
        yield return Bytes("raw-nul-byte-between-tokens", Splice(valid, "{", [(byte)'{', 0x00]), Rejected);
        yield return Bytes("raw-nul-byte-in-a-string", Splice(valid, Uid, [.. "corpus"u8, 0x00, .. "-uid-0001"u8]), Rejected);
        yield return Bytes("invalid-utf8-in-uid", Splice(valid, Uid, [.. "corpus-"u8, 0xC3, 0x28, .. "-0001"u8]), Rejected);
        yield return Bytes("invalid-utf8-overlong-in-namespace", Splice(valid, "\"namespace\":\"team-a\"", [.. "\"namespace\":\"team"u8, 0xC0, 0xAD, .. "a\""u8]), Rejected);
        yield return Bytes("invalid-utf8-in-the-robot-annotation", Splice(valid, "\"acme+puller\"", [.. "\"acme+pull"u8, 0xFF, 0xFE, .. "er\""u8]), Rejected, DeniedBadRequest);
        yield return Bytes("invalid-utf8-in-a-field-never-read", Splice(valid, "quay.io/acme/app:1", [.. "quay.io/acme/app:"u8, 0xED, 0xA0, 0x80]), Rejected, Patched);
        yield return Text("lone-surrogate-escape-in-uid", valid.Replace(Uid, "corpus\\ud800", StringComparison.Ordinal), Rejected);
        yield return Text("lone-surrogate-escape-in-the-robot-annotation", valid.Replace("\"acme+puller\"", "\"acme+\\udc00puller\"", StringComparison.Ordinal), Rejected, DeniedBadRequest);
        yield return Spliced("invalid-utf8-in-serviceAccountName", p => p["spec"]!["serviceAccountName"] = "MARK", "\"MARK\"", [.. "\"bui"u8, 0xF8, 0x88, 0x80, 0x80, 0x80, .. "lder\""u8], Rejected, DeniedBadRequest);
        yield return Spliced("lone-surrogate-escape-in-an-imagePullSecrets-name", p => p["spec"]!["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = "MARK" }), "\"MARK\"", "\"reg\\udfffcred\""u8.ToArray(), Rejected, DeniedBadRequest);
        yield return Spliced("lone-surrogate-escape-in-metadata-namespace", p => p["metadata"]!["namespace"] = "MARK", "\"MARK\"", "\"team\\ud800\""u8.ToArray(), Rejected, DeniedBadRequest, requestNamespace: false);
        yield return new BadInputCase("escaped-nul-in-uid", Encoding.UTF8.GetBytes(valid.Replace(Uid, "corpus\\u0000uid", StringComparison.Ordinal)), Json, [Patched], "corpus\0uid");

        // --- duplicate keys: two parsers must never read two different reviews out of one body ---
        yield return Text("duplicate-apiVersion", "{\"apiVersion\":\"admission.k8s.io/v1beta1\"," + valid[1..], Rejected);
        yield return Text("duplicate-request", valid[..^1] + ",\"request\":{\"uid\":\"other\"}}", Rejected);
        yield return Text("duplicate-uid-in-request", valid.Replace("\"request\":{", "\"request\":{\"uid\":\"smuggled\",", StringComparison.Ordinal), Rejected);
        yield return Text("duplicate-dryRun-in-request", valid.Replace("\"request\":{", "\"request\":{\"dryRun\":true,", StringComparison.Ordinal), Rejected);
        yield return Text("duplicate-object-in-request", valid.Replace("\"request\":{", "\"request\":{\"object\":{\"metadata\":{}},", StringComparison.Ordinal), Rejected);
        yield return Text("duplicate-robot-annotation-in-the-pod", valid.Replace("\"annotations\":{", "\"annotations\":{\"quay-admission.io/robot-account\":\"evil+robot\",", StringComparison.Ordinal), Rejected);
        yield return Text("duplicate-spec-in-the-pod", valid.Replace("\"spec\":{", "\"spec\":{\"imagePullSecrets\":[{\"name\":\"x\"}],\"imagePullSecrets\":5,", StringComparison.Ordinal), Rejected);

        // --- wrong types in the envelope: not an AdmissionReview, HTTP 400 ---
        yield return Envelope("apiVersion-number", r => r["apiVersion"] = 1);
        yield return Envelope("apiVersion-null", r => r["apiVersion"] = null);
        yield return Envelope("kind-object", r => r["kind"] = new JsonObject());
        yield return Envelope("request-string", r => r["request"] = "CREATE");
        yield return Envelope("request-array", r => r["request"] = new JsonArray());
        yield return Envelope("request-null", r => r["request"] = null);
        yield return Envelope("uid-object", r => r["request"]!["uid"] = new JsonObject());
        yield return Envelope("uid-bool", r => r["request"]!["uid"] = true);
        yield return Envelope("uid-empty", r => r["request"]!["uid"] = "");
        yield return Envelope("uid-number-out-of-range", r => r["request"]!["uid"] = JsonNode.Parse("1e400"));
        yield return Envelope("request-kind-string", r => r["request"]!["kind"] = "Pod");
        yield return Envelope("request-kind-group-number", r => r["request"]!["kind"]!["group"] = 0);
        yield return Envelope("request-kind-kind-array", r => r["request"]!["kind"]!["kind"] = new JsonArray("Pod"));
        yield return Envelope("operation-number", r => r["request"]!["operation"] = 1);
        yield return Envelope("namespace-number", r => r["request"]!["namespace"] = 7);
        yield return Envelope("name-object", r => r["request"]!["name"] = new JsonObject());
        yield return Envelope("dryRun-string", r => r["request"]!["dryRun"] = "true");
        yield return Envelope("dryRun-number", r => r["request"]!["dryRun"] = 1);
        yield return Envelope("subResource-array", r => r["request"]!["subResource"] = new JsonArray());

        // --- wrong values in the envelope: a review, just not one we act on ---
        yield return Review("operation-lowercase", r => r["request"]!["operation"] = "create", Allowed);
        yield return Review("operation-huge-string", r => r["request"]!["operation"] = new string('C', 1 << 20), Allowed);
        yield return Review("kind-group-apps", r => r["request"]!["kind"]!["group"] = "apps", Allowed);
        yield return Review("request-kind-null", r => r["request"]!["kind"] = null, Allowed);
        yield return Envelope("uid-1-mib", r => r["request"]!["uid"] = new string('u', 1 << 20));
        yield return Review("uid-with-control-characters", r => r["request"]!["uid"] = "a\nb\u001b[31mc\u2028d", Patched) with { Uid = "a\nb\u001b[31mc\u2028d" };
        yield return Review("old-object-garbage", r => r["request"]!["oldObject"] = new JsonArray(1, "x", null), Patched);

        // --- wrong types in the pod: the review is fine, the pod cannot be read: denied 400 ---
        yield return Review("object-string", r => r["request"]!["object"] = "pod", DeniedBadRequest);
        yield return Review("object-null", r => r["request"]!["object"] = null, DeniedBadRequest);
        yield return Review("object-array", r => r["request"]!["object"] = new JsonArray(), DeniedBadRequest);
        yield return Review("object-missing", r => r["request"]!.AsObject().Remove("object"), DeniedBadRequest);
        yield return PodCase("metadata-array", p => p["metadata"] = new JsonArray(), DeniedBadRequest);
        yield return PodCase("metadata-string", p => p["metadata"] = "team-a", DeniedBadRequest);
        yield return PodCase("annotations-array", p => p["metadata"]!["annotations"] = new JsonArray(Robot), DeniedBadRequest);
        yield return PodCase("annotations-string", p => p["metadata"]!["annotations"] = Robot, DeniedBadRequest);
        yield return PodCase("robot-annotation-number", p => p["metadata"]!["annotations"]!["quay-admission.io/robot-account"] = 5, DeniedBadRequest);
        yield return PodCase("robot-annotation-array", p => p["metadata"]!["annotations"]!["quay-admission.io/robot-account"] = new JsonArray(Robot), DeniedBadRequest);
        yield return PodCase("robot-annotation-object", p => p["metadata"]!["annotations"]!["quay-admission.io/robot-account"] = new JsonObject { ["robot"] = Robot }, DeniedBadRequest);
        yield return PodCase("robot-annotation-bool", p => p["metadata"]!["annotations"]!["quay-admission.io/robot-account"] = true, DeniedBadRequest);
        yield return PodCase("inject-annotation-bool", p => p["metadata"]!["annotations"]!["quay-admission.io/inject"] = false, DeniedBadRequest);
        yield return PodCase("metadata-name-number-without-request-name", p => p["metadata"]!["name"] = 5, DeniedBadRequest, requestName: false);
        yield return PodCase("metadata-generateName-array-without-name", p =>
        {
            p["metadata"]!.AsObject().Remove("name");
            p["metadata"]!["generateName"] = new JsonArray("web-");
        }, DeniedBadRequest, requestName: false);
        yield return PodCase("metadata-namespace-number-without-request-namespace", p => p["metadata"]!["namespace"] = 5, DeniedBadRequest, requestNamespace: false);
        yield return PodCase("no-namespace-anywhere", p => p["metadata"]!.AsObject().Remove("namespace"), DeniedBadRequest, requestNamespace: false);
        yield return PodCase("spec-string", p => p["spec"] = "spec", DeniedBadRequest);
        yield return PodCase("spec-array", p => p["spec"] = new JsonArray(), DeniedBadRequest);
        yield return PodCase("spec-missing", p => p.Remove("spec"), DeniedBadRequest);
        yield return PodCase("serviceAccountName-number", p => p["spec"]!["serviceAccountName"] = 5, DeniedBadRequest);
        yield return PodCase("serviceAccountName-object", p => p["spec"]!["serviceAccountName"] = new JsonObject(), DeniedBadRequest);
        yield return PodCase("imagePullSecrets-string", p => p["spec"]!["imagePullSecrets"] = "regcred", DeniedBadRequest);
        yield return PodCase("imagePullSecrets-object", p => p["spec"]!["imagePullSecrets"] = new JsonObject { ["name"] = "regcred" }, DeniedBadRequest);
        yield return PodCase("imagePullSecrets-entry-number", p => p["spec"]!["imagePullSecrets"] = new JsonArray(5), DeniedBadRequest);
        yield return PodCase("imagePullSecrets-entry-null", p => p["spec"]!["imagePullSecrets"] = new JsonArray((JsonNode?)null), DeniedBadRequest);
        yield return PodCase("imagePullSecrets-entry-string", p => p["spec"]!["imagePullSecrets"] = new JsonArray("regcred"), DeniedBadRequest);

        // --- names that end up in API paths must be names, not paths (the client does not escape them) ---
        yield return PodCase("serviceAccountName-path-traversal", p => p["spec"]!["serviceAccountName"] = "../../kube-system/serviceaccounts/default", DeniedBadRequest);
        yield return PodCase("serviceAccountName-with-query", p => p["spec"]!["serviceAccountName"] = "default?dryRun=All", DeniedBadRequest);
        yield return Review("request-namespace-with-slash", r => r["request"]!["namespace"] = "team-a/secrets", DeniedBadRequest);

        // --- odd but readable pods: allowed, and the patch must still be right ---
        yield return PodCase("imagePullSecrets-null", p => p["spec"]!["imagePullSecrets"] = null, Patched) with { Check = AddsOurNameTo(_ => []) };
        yield return PodCase("imagePullSecrets-entry-name-number", p => p["spec"]!["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = 5 }), Patched);
        yield return PodCase("metadata-null", p => p["metadata"] = null, Allowed, requestNamespace: true);
        yield return PodCase("annotations-10000-entries", p =>
        {
            var annotations = p["metadata"]!["annotations"]!.AsObject();
            for (var i = 0; i < 10_000; i++)
                annotations[$"example.com/key-{i}"] = $"value-{i}";
        }, Patched);
        yield return PodCase("annotations-with-control-characters", p =>
        {
            var annotations = p["metadata"]!["annotations"]!.AsObject();
            annotations["example.com/ctl"] = "line\nbreak\r\u0000nul\u001b[2Jescape\u0007bell\u2028sep";
            annotations["example.com/\u0001key\n"] = "x";
        }, Patched);
        yield return PodCase("annotation-value-1-mib", p => p["metadata"]!["annotations"]!["example.com/big"] = new string('x', 1 << 20), Patched);
        yield return PodCase("huge-string-3-mib", p => p["metadata"]!["annotations"]!["example.com/huge"] = new string('h', 3 << 20), Patched);
        yield return PodCase("numbers-out-of-range-in-the-pod", p =>
        {
            p["spec"]!["terminationGracePeriodSeconds"] = JsonNode.Parse("1e99999");
            p["spec"]!["activeDeadlineSeconds"] = JsonNode.Parse("-123456789012345678901234567890");
            p["spec"]!["priority"] = JsonNode.Parse("0.0000000000000000000000000000000000000001");
        }, Patched) with { Check = KeepsEverythingElse };
        yield return PodCase("5000-existing-imagePullSecrets", p =>
            p["spec"]!["imagePullSecrets"] = new JsonArray([.. Enumerable.Range(0, 5000).Select(i => (JsonNode)new JsonObject { ["name"] = $"existing-{i % 4000}" })]),
            Patched) with { Check = AddsOurNameTo(_ => [.. Enumerable.Range(0, 5000).Select(i => $"existing-{i % 4000}")]) };

        // --- the robot-account annotation: bad entries are denied with a short, one-line reason ---
        yield return RobotCase("robot-with-newline", "acme+pul\nler", DeniedBadRequest);
        yield return RobotCase("robot-with-escape-sequence", "acme+\u001b[31mpuller", DeniedBadRequest);
        yield return RobotCase("robot-with-nul", "acme+pul\u0000ler", DeniedBadRequest);
        yield return RobotCase("robot-unicode-umlaut", "acme+püller", DeniedBadRequest);
        yield return RobotCase("robot-cyrillic-homoglyph", "\u0430cme+puller", DeniedBadRequest);
        yield return RobotCase("robot-fullwidth-plus", "acme\uFF0Bpuller", DeniedBadRequest);
        yield return RobotCase("robot-kelvin-sign", "acme+\u212Aelvin", DeniedBadRequest);
        yield return RobotCase("robot-right-to-left-override", "acme+\u202Erelluup", DeniedBadRequest);
        yield return RobotCase("robot-emoji", "acme+pull\U0001F600er", DeniedBadRequest);
        yield return RobotCase("robot-1-mib", "acme+" + new string('a', 1 << 20), DeniedBadRequest);
        yield return RobotCase("robot-1-mib-of-commas", new string(',', 1 << 20), DeniedBadRequest);
        yield return RobotCase("robot-1-mib-of-entries", string.Join(',', Enumerable.Repeat(Robot, (1 << 20) / 12)), DeniedBadRequest);
        yield return RobotCase("robot-17-distinct-entries", string.Join(',', Enumerable.Range(0, 17).Select(i => $"acme+robot{i}")), DeniedBadRequest);
        yield return RobotCase("robot-empty", "", DeniedBadRequest);
        yield return RobotCase("robot-unicode-host", "qu\u0430y.io/acme+puller", "denied:403");
        yield return RobotCase("robot-host-with-path-traversal", "../../acme+puller", "denied:403");
        yield return RobotCase("robot-same-entry-16-times", string.Join(',', Enumerable.Repeat(Robot, 16)), Patched) with { Check = AddsOurNameTo(_ => []) };
    }

    private static BadInputCase Text(string name, string body, params string[] accept) =>
        new(name, Encoding.UTF8.GetBytes(body), Json, accept, accept.Any(a => a != Rejected) ? Uid : null);

    private static BadInputCase Bytes(string name, byte[] body, params string[] accept) =>
        new(name, body, Json, accept, accept.Any(a => a != Rejected) ? Uid : null);

    private static BadInputCase Envelope(string name, Action<JsonObject> change)
    {
        var review = Review();
        change(review);
        return new(name, Encoding.UTF8.GetBytes(review.ToJsonString(Relaxed)), Json, [Rejected], null);
    }

    private static BadInputCase Review(string name, Action<JsonObject> change, params string[] accept)
    {
        var review = Review();
        change(review);
        return new(name, Encoding.UTF8.GetBytes(review.ToJsonString(Relaxed)), Json, accept, Uid);
    }

    /// <summary>A review of a pod changed by <paramref name="change"/>; request.name and request.namespace
    /// are left out when the case is about the pod's own metadata, so the webhook has to read it.</summary>
    private static BadInputCase PodCase(string name, Action<JsonObject> change, string accept, bool requestName = true, bool requestNamespace = true)
    {
        var pod = Pod();
        change(pod);
        var review = Review();
        review["request"]!["object"] = pod;
        if (!requestName)
            review["request"]!.AsObject().Remove("name");
        if (!requestNamespace)
            review["request"]!.AsObject().Remove("namespace");
        return new(name, Encoding.UTF8.GetBytes(review.ToJsonString(Relaxed)), Json, [accept], Uid);
    }

    /// <summary>A <see cref="PodCase"/> whose serialized text then gets <paramref name="find"/> replaced by raw bytes.</summary>
    private static BadInputCase Spliced(string name, Action<JsonObject> change, string find, byte[] replacement, string accept, string alsoAccept, bool requestNamespace = true)
    {
        var review = PodCase(name, change, accept, requestNamespace: requestNamespace);
        return review with { Body = Splice(Encoding.UTF8.GetString(review.Body), find, replacement), Accept = [accept, alsoAccept] };
    }

    private static BadInputCase RobotCase(string name, string annotation, string accept) =>
        PodCase(name, p => p["metadata"]!["annotations"]!["quay-admission.io/robot-account"] = annotation, accept);

    /// <summary>The review with the pod's <c>spec</c> carrying <paramref name="rawJson"/> under <paramref name="field"/>.</summary>
    private static string WithPodField(string field, string rawJson) =>
        Review().ToJsonString(Relaxed).Replace("\"spec\":{", $"\"spec\":{{\"{field}\":{rawJson},", StringComparison.Ordinal);

    /// <summary>A valid review padded with an unrelated annotation to exactly <paramref name="size"/> bytes.</summary>
    private static byte[] Padded(int size)
    {
        var empty = PodWithPadding("").Length;
        var body = PodWithPadding(new string('p', size - empty));
        if (body.Length != size)
            throw new InvalidOperationException($"padding produced {body.Length} bytes, wanted {size}");
        return body;
    }

    private static byte[] PodWithPadding(string padding)
    {
        var pod = Pod();
        pod["metadata"]!["annotations"]!["example.com/padding"] = padding;
        return Encoding.UTF8.GetBytes(Review(pod).ToJsonString(Relaxed));
    }

    /// <summary>Replaces the first occurrence of <paramref name="find"/> in <paramref name="text"/> by raw bytes.</summary>
    private static byte[] Splice(string text, string find, byte[] replacement)
    {
        var at = text.IndexOf(find, StringComparison.Ordinal);
        if (at < 0)
            throw new InvalidOperationException($"'{find}' is not in the review");
        return [.. Encoding.UTF8.GetBytes(text[..at]), .. replacement, .. Encoding.UTF8.GetBytes(text[(at + find.Length)..])];
    }

    /// <summary>The patched pod lists <paramref name="existing"/> in order, then our name once.</summary>
    private static Action<JsonObject, AdmissionResult, string> AddsOurNameTo(Func<JsonObject, string[]> existing) => (sent, result, secretName) =>
    {
        var patched = JsonPatchApplier.Apply(sent.ToJsonString(Relaxed), result.Patch);
        var names = patched["spec"]!["imagePullSecrets"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToList();
        Assert.Equal([.. existing(sent), secretName], names);
    };

    /// <summary>Apart from our list, the patched pod equals what was sent, odd numbers included.</summary>
    private static void KeepsEverythingElse(JsonObject sent, AdmissionResult result, string secretName)
    {
        var patched = JsonPatchApplier.Apply(sent.ToJsonString(Relaxed), result.Patch);
        Assert.Equal(secretName, patched["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        patched["spec"]!.AsObject().Remove("imagePullSecrets");
        Assert.True(JsonNode.DeepEquals(sent, InjectedLabel.Strip(patched, sent)));
    }
}
