using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Hardening;

/// <summary>
/// For generated valid Pods the patch applies cleanly, only adds, touches nothing outside
/// <c>/spec/imagePullSecrets</c>, lists each expected name once after the original entries, and
/// a second admission of the patched Pod adds nothing.
/// </summary>
public sealed class PatchPropertyTests : IAsyncLifetime
{
    private const int Iterations = 100;

    private static readonly string[] Robots = ["acme+puller", "acme+builder.ci", "other_org+bot-1"];
    private static readonly string[] Namespaces = ["team-a", "team-b"];
    private static readonly string?[] ServiceAccounts = [null, "default", "builder"];

    private WebhookHost host = null!;

    public async Task InitializeAsync()
    {
        host = await WebhookHost.StartAsync();
        // Real exchanges for the iterations that are not dry runs: Quay trusts every (robot, namespace, ServiceAccount) of the pools.
        foreach (var robot in Robots)
            foreach (var ns in Namespaces)
                foreach (var sa in ServiceAccounts)
                    host.Trust(robot, ns, sa ?? "default");
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task The_patch_only_adds_our_names_once_and_a_second_pass_adds_nothing()
    {
        await GeneratedPod.Any.SampleAsync(async pod =>
        {
            var original = pod.Json(host.RegistryHost);
            var expected = pod.ExpectedNewNames(host.RegistryHost);

            var first = await host.AdmitAsync(original, dryRun: pod.DryRun).WaitAsync(HardeningHost.NoHang);
            Assert.True(first.Allowed, first.Body);
            Assert.Empty(first.Warnings);

            // Every injected Pod ends up labelled; one that already lists every name gets the label alone.
            Assert.True(first.HasPatch, "no patch for an injected pod");
            var operations = JsonNode.Parse(first.Patch)!.AsArray();
            Assert.All(operations, op =>
            {
                Assert.Equal("add", op!["op"]!.GetValue<string>());
                Assert.Contains(op["path"]!.GetValue<string>(), (string[])["/spec/imagePullSecrets", "/spec/imagePullSecrets/-", "/metadata/labels", "/metadata/labels/quay-admission.io~1injected"]);
            });
            var patched = JsonPatchApplier.Apply(original, first.Patch);

            Assert.Equal([.. pod.ExistingNames(host.RegistryHost), .. expected], PullSecretNames(patched));
            var sent = JsonNode.Parse(original)!;
            Assert.True(JsonNode.DeepEquals(WithoutPullSecrets(sent.DeepClone()), InjectedLabel.Strip(WithoutPullSecrets(patched.DeepClone()), sent)), "something outside our list and label changed");

            var second = await host.AdmitAsync(patched.ToJsonString(), dryRun: pod.DryRun).WaitAsync(HardeningHost.NoHang);
            Assert.True(second.Allowed, second.Body);
            Assert.False(second.HasPatch, "the second pass patched again");
            Assert.Empty(second.Warnings);
        }, iter: Iterations, threads: 1, print: pod => pod.Json("<registry>"));
    }

    private static List<string> PullSecretNames(JsonNode pod) =>
        pod["spec"]?["imagePullSecrets"] is JsonArray list ? [.. list.Select(e => e!["name"]!.GetValue<string>())] : [];

    private static JsonNode WithoutPullSecrets(JsonNode pod)
    {
        pod["spec"]!.AsObject().Remove("imagePullSecrets");
        return pod;
    }

    public enum ListForm
    {
        Absent,
        Null,
        Present,
    }

    /// <summary>
    /// A valid Pod, described so it can be printed when it fails. Existing pull Secret entries of the form
    /// <c>@i</c> stand for our own Secret name of robot i, which depends on the registry's loopback port.
    /// </summary>
    public sealed record GeneratedPod(
        string? Name,
        string? GenerateName,
        string Namespace,
        string? ServiceAccount,
        (int Robot, bool WithHost)[] References,
        string Separator,
        ListForm PullSecretsForm,
        string[] PullSecrets,
        (string Key, string Value)[] Annotations,
        (string Where, string Key, string Json)[] Unknown,
        bool DryRun)
    {
        private static readonly Gen<string> Label = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"].Array[1, 10].Select(c => new string(c));
        private static readonly Gen<string> Fragment = Gen.OneOf("a", "Z", "/", "~", "~1", "~0", " ", "\"", "\\", "ü", "€", "😀", "\u2028", ",", "acme+puller", "{", "0");
        private static readonly Gen<string> Text = Fragment.Array[0, 5].Select(f => string.Concat(f));
        private static readonly Gen<string> JsonValue = Gen.OneOf("1", "-1e300", "123456789012345678901234567890", "\"x\"", "null", "true", "[]", "[1,{\"a\":[null]}]", "{\"deep\":{\"er\":{\"still\":[\"~/\"]}}}");

        public static readonly Gen<GeneratedPod> Any = Gen.Select(
            Label.Null(0.3),
            Label.Select(l => l + "-").Null(0.5),
            Gen.OneOf(Namespaces),
            Gen.OneOf(ServiceAccounts),
            Gen.Select(Gen.Int[0, Robots.Length - 1], Gen.Bool).Array[1, 3],
            Gen.OneOf(",", ", ", " , ", ",,"),
            Gen.Enum<ListForm>(),
            Gen.OneOf("regcred", "mirror", "a~b/c", "@0", "@1", "@2").Array[0, 6],
            Gen.Select(Label.Select(l => "example.com/" + l), Text).Array[0, 5],
            Gen.Select(Gen.OneOf("pod", "metadata", "spec"), Label.Select(l => "x-" + l), JsonValue).Array[0, 4],
            // Three in four are dry runs (no calls); the rest make real exchanges, which Quay trusts for every pool member.
            Gen.Int[0, 3].Select(i => i > 0),
            (name, generateName, ns, sa, references, separator, form, pullSecrets, annotations, unknown, dryRun) =>
                new GeneratedPod(name, generateName, ns, sa, references, separator, form, pullSecrets, annotations, unknown, dryRun));

        private string Sa => ServiceAccount ?? "default";

        /// <summary>The pod as kube-apiserver would send it, with <paramref name="registry"/> in names that depend on it.</summary>
        public string Json(string registry)
        {
            var annotations = new JsonObject();
            foreach (var (key, value) in Annotations)
                annotations[key] = value;
            annotations[WellKnown.RobotAccountAnnotation] = string.Join(Separator, References.Select(r => (r.WithHost ? registry + "/" : "") + Robots[r.Robot]));

            var metadata = new JsonObject { ["namespace"] = Namespace, ["annotations"] = annotations };
            if (Name is not null)
                metadata["name"] = Name;
            if (GenerateName is not null)
                metadata["generateName"] = GenerateName;

            var spec = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "quay.io/acme/app:1" }) };
            if (ServiceAccount is not null)
                spec["serviceAccountName"] = ServiceAccount;
            if (PullSecretsForm == ListForm.Null)
                spec["imagePullSecrets"] = null;
            else if (PullSecretsForm == ListForm.Present)
                spec["imagePullSecrets"] = new JsonArray([.. ExistingNames(registry).Select(n => (JsonNode)new JsonObject { ["name"] = n })]);

            var pod = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = metadata, ["spec"] = spec };
            foreach (var (where, key, json) in Unknown)
            {
                var parent = where == "pod" ? pod : pod[where]!.AsObject();
                parent[key] = JsonNode.Parse(json);
            }
            return pod.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }

        public IReadOnlyList<string> ExistingNames(string registry) => PullSecretsForm != ListForm.Present
            ? []
            : [.. PullSecrets.Select(n => n.StartsWith('@') ? PullSecretKey.NameFor(Sa, registry, Robots[n[1] - '0']) : n)];

        /// <summary>Our names for the distinct references, in annotation order, that the pod does not list yet.</summary>
        public IReadOnlyList<string> ExpectedNewNames(string registry)
        {
            var existing = ExistingNames(registry).ToHashSet(StringComparer.Ordinal);
            return [.. References.Select(r => PullSecretKey.NameFor(Sa, registry, Robots[r.Robot])).Distinct(StringComparer.Ordinal).Where(n => !existing.Contains(n))];
        }
    }
}
