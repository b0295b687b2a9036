using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuayAdmission.Demo;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

// make demo: the real webhook process, stand-ins for the Kubernetes API and Quay on loopback,
// and four Pod admissions narrated step by step.
var dll = Path.GetFullPath(args.FirstOrDefault() ?? "src/QuayAdmission/bin/Release/net10.0/QuayAdmission.dll");
if (!File.Exists(dll))
{
    Console.Error.WriteLine($"webhook not built: {dll} (run `make build`)");
    return 2;
}

var work = Directory.CreateTempSubdirectory("quay-admission-demo-").FullName;
await using var kube = await FakeKubernetesApi.StartAsync(TimeProvider.System);
await using var quay = await FakeQuay.StartAsync(TimeProvider.System, https: true);
var certificates = DevCertificates.Write(work);
quay.TrustSubject("acme+puller", kube.Issuer, "system:serviceaccount:team-a:default");

Heading("Stand-ins");
Console.WriteLine($"Kubernetes API  {kube.BaseAddress}  (issuer {kube.Issuer})");
Console.WriteLine($"Quay            {quay.BaseAddress}  trusts acme+puller for system:serviceaccount:team-a:default");

var webhookLog = new List<string>();
await using var webhook = await WebhookProcess.StartAsync(dll, WebhookEnvironment.ForStandIns(kube, quay, certificates, work).WithReadableLogs(),
    line => { lock (webhookLog) webhookLog.Add(line); });
Console.WriteLine($"Webhook         https://127.0.0.1:{webhook.HttpsPort}/mutate  health http://127.0.0.1:{webhook.HealthPort}/readyz (ready)");

using var client = certificates.Client(webhook.HttpsPort);
var pod = Pods.Json(name: null, generateName: "web-", robotAccount: "acme+puller");

await Admit("1. A fresh Pod in team-a naming acme+puller", pod, dryRun: false);
await Admit("2. The same Pod again (token cached: no calls expected)", pod, dryRun: false);
await Admit("3. A dry run (no TokenRequest, no Quay call, no write; same patch)", pod, dryRun: true);
await Admit("4. A Pod whose ServiceAccount Quay does not trust", Pods.Json(name: null, generateName: "intruder-", serviceAccount: "intruder"), dryRun: false);

Heading("Secrets in the Kubernetes API stand-in");
foreach (var secret in kube.Secrets)
{
    var config = Encoding.UTF8.GetString(secret.Data[".dockerconfigjson"]);
    Console.WriteLine($"{secret.Metadata.NamespaceProperty}/{secret.Metadata.Name}  type {secret.Type}  resourceVersion {secret.Metadata.ResourceVersion}");
    foreach (var (key, value) in secret.Metadata.Annotations ?? new Dictionary<string, string>())
        Console.WriteLine($"  {key}: {value}");
    Console.WriteLine($"  .dockerconfigjson: {Shorten(config)}");
}

Heading("Events recorded");
// Events are sent in the background so admission never waits on them: give the last one a moment.
for (var waited = 0; kube.Events.Count == 0 && waited < 3000; waited += 50)
    await Task.Delay(50);
foreach (var recorded in kube.Events)
    Console.WriteLine($"{recorded.Type} {recorded.Reason} on {recorded.InvolvedObject.Kind} {recorded.InvolvedObject.NamespaceProperty}/{recorded.InvolvedObject.Name}: {recorded.Message}");

Heading($"Metrics (http://127.0.0.1:{webhook.HealthPort}/metrics, excerpt)");
using (var health = new HttpClient())
{
    var metrics = await health.GetStringAsync(new Uri($"http://127.0.0.1:{webhook.HealthPort}/metrics"));
    foreach (var line in metrics.Split('\n').Where(l => l.StartsWith("quay_admission_", StringComparison.Ordinal) && !l.Contains("_bucket", StringComparison.Ordinal)))
        Console.WriteLine("  " + line);
}

Heading("What the webhook logged");
lock (webhookLog)
    webhookLog.ForEach(l => Console.WriteLine("  " + l));

Heading("The kubelet credential provider, the second mode: same Quay, same annotation (on the ServiceAccount), no Secret");
await ProviderDemo.RunAsync(Path.GetFullPath(args.ElementAtOrDefault(1) ?? "src/QuayAdmission.CredentialProvider/bin/Release/net10.0/quay-credential-provider.dll"),
    kube, quay, quay.WriteCaFile(Path.Combine(work, "quay-ca.pem")), work);
return 0;

async Task Admit(string title, string podJson, bool dryRun)
{
    Heading(title);
    kube.ResetCounts();
    quay.ResetCounts();
    var review = Reviews.Create(podJson, dryRun: dryRun);
    using var content = new StringContent(review, Encoding.UTF8, "application/json");
    using var http = await client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
    var response = JsonNode.Parse(await http.Content.ReadAsStringAsync())!["response"]!;

    Console.WriteLine($"HTTP {(int)http.StatusCode}, allowed: {response["allowed"]}");
    if (response["status"] is { } status)
        Console.WriteLine($"status: {status["code"]} {status["message"]}");
    if (response["patch"] is { } patch)
    {
        var decoded = JsonNode.Parse(Convert.FromBase64String(patch.GetValue<string>()))!;
        Console.WriteLine($"patch ({response["patchType"]}): {decoded.ToJsonString()}");
    }
    else
    {
        Console.WriteLine("patch: none");
    }
    foreach (var warning in response["warnings"]?.AsArray() ?? [])
        Console.WriteLine($"warning: {warning}");

    var calls = kube.Requests.Where(r => r.Operation is not ("jwks" or "discovery")).ToList();
    var admission = calls.Where(r => !IsBackground(r.Operation)).Select(r => $"{r.Method} {r.Path}").ToList();
    var background = calls.Where(r => IsBackground(r.Operation)).Select(r => r.Operation).Distinct().ToList();
    Console.WriteLine($"Kubernetes API calls: {(admission.Count == 0 ? "none" : string.Join(", ", admission))}");
    if (background.Count > 0)
        Console.WriteLine($"  meanwhile in the background (refresher, events): {string.Join(", ", background)}");
    var exchanges = quay.Exchanges.Select(e => $"{e.Robot} as {e.Subject} -> {e.StatusCode}{(e.Error is null ? "" : " " + e.Error)}").ToList();
    Console.WriteLine($"Quay exchanges: {(exchanges.Count == 0 ? "none" : string.Join(", ", exchanges))}");
}

// Work the webhook does on its own, not because of the review just sent.
// The caches' lists and watches start once the webhook is up, so they may overlap the first admission.
static bool IsBackground(string operation) =>
    operation.StartsWith("leases.", StringComparison.Ordinal) || operation.StartsWith("events.", StringComparison.Ordinal)
    || operation.EndsWith(".watch", StringComparison.Ordinal)
    || operation is "secrets.list" or "pods.list";

static void Heading(string text) => Console.WriteLine($"\n== {text}");

// Tokens are shown by their first characters only, as an operator would want in a terminal.
static string Shorten(string dockerConfig)
{
    var json = JsonNode.Parse(dockerConfig)!;
    foreach (var (_, entry) in json["auths"]!.AsObject())
    {
        foreach (var field in new[] { "password", "auth" })
        {
            var value = entry![field]!.GetValue<string>();
            entry[field] = value[..Math.Min(12, value.Length)] + $"...({value.Length} chars)";
        }
    }
    return json.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
