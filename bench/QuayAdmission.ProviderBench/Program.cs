using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using QuayAdmission.Tests.Fakes;

// bench/provider.sh: exec the native quay-credential-provider as the kubelet does, against the Quay
// stand-in over TLS on loopback, and write what it costs at the end of docs/benchmarks.md.
//   QuayAdmission.ProviderBench <quay-credential-provider> <doc.md> [runs]
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: QuayAdmission.ProviderBench <quay-credential-provider> <doc.md> [runs]");
    return 2;
}
var binary = Path.GetFullPath(args[0]);
var doc = args[1];
var runs = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
var inv = CultureInfo.InvariantCulture;
const string Robot = "acme+puller";
const string GnuTime = "/usr/bin/time";
if (!File.Exists(GnuTime))
{
    Console.Error.WriteLine($"{GnuTime} (GNU time) is needed for CPU time and peak RSS: apt-get install time");
    return 2;
}

var work = Directory.CreateTempSubdirectory("quay-provider-bench-");
await using var kube = await FakeKubernetesApi.StartAsync(TimeProvider.System);
await using var quay = await FakeQuay.StartAsync(TimeProvider.System, https: true);
quay.TrustSubject(Robot, kube.Issuer, "system:serviceaccount:team-a:builder");
var caFile = quay.WriteCaFile(Path.Combine(work.FullName, "quay-ca.pem"));
var config = Path.Combine(work.FullName, "quay-admission.json");
File.WriteAllText(config, new JsonObject
{
    ["QuayAdmission"] = new JsonObject
    {
        ["Registries"] = new JsonArray(new JsonObject { ["Host"] = quay.Host, ["FederationUrl"] = quay.BaseAddress.ToString(), ["CaFile"] = caFile }),
    },
}.ToJsonString());

using var api = new k8s.Kubernetes(kube.ClientConfiguration());
var token = (await api.CoreV1.CreateNamespacedServiceAccountTokenAsync(
    new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = [quay.Host], ExpirationSeconds = 3600 } }, "builder", "team-a")).Status.Token;
string Request(bool annotated) => new JsonObject
{
    ["apiVersion"] = "credentialprovider.kubelet.k8s.io/v1",
    ["kind"] = "CredentialProviderRequest",
    ["image"] = $"{quay.Host}/acme/app:1.0",
    ["serviceAccountToken"] = token,
    ["serviceAccountAnnotations"] = annotated ? new JsonObject { ["quay-admission.io/robot-account"] = Robot } : new JsonObject(),
}.ToJsonString();

// .NET's certificate chain builder on Linux loads the system trust store (the bundle file and then
// every file in /etc/ssl/certs) once per process, even when the registry's CaFile is the only root
// that counts. The last two rows narrow that store through OpenSSL's variables, to show its cost.
var noCertDir = work.CreateSubdirectory("no-system-certs").FullName;
var rows = new (string Name, string Stdin, Dictionary<string, string> Environment)[]
{
    ("with the Quay exchange (robot annotated)", Request(annotated: true), []),
    ("no exchange (no annotation: start, configuration, request, answer)", Request(annotated: false), []),
    ("with the exchange, system roots from the bundle file only (`SSL_CERT_DIR` an empty folder)", Request(annotated: true), new() { ["SSL_CERT_DIR"] = noCertDir }),
    ("with the exchange, system roots narrowed to the CaFile (`SSL_CERT_FILE` the CaFile, `SSL_CERT_DIR` an empty folder)", Request(annotated: true), new() { ["SSL_CERT_FILE"] = caFile, ["SSL_CERT_DIR"] = noCertDir }),
};

// Two unmeasured runs: the binary and its libraries in the page cache, the stand-in's JWKS fetched,
// as on a node that has pulled before. "Cold" is the process: every measured run starts from exec.
for (var i = 0; i < 2; i++)
    await ExecAsync(binary, config, rows[0].Stdin, rows[0].Environment);

var loadBefore = LoadAverage();
var samples = rows.Select(_ => new List<Exec>()).ToArray();
var floor = new List<Exec>();
for (var i = 0; i < runs; i++)
{
    // Interleaved, so a burst of load on the shared machine falls on every row alike.
    for (var row = 0; row < rows.Length; row++)
        samples[row].Add(await ExecAsync(binary, config, rows[row].Stdin, rows[row].Environment));
    floor.Add(await ExecAsync("/bin/true", null, "", new Dictionary<string, string>()));
}
var loadAfter = LoadAverage();

// The exchange alone, from a warm process, on a new TLS connection each time as the plugin makes it.
var exchangeOnly = new List<double>();
var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
trust.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(Encoding.ASCII.GetBytes(quay.CaCertificatePem)));
for (var i = 0; i < runs + 2; i++)
{
    using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { CertificateChainPolicy = trust } });
    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(quay.BaseAddress, FakeQuay.ExchangePath));
    request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Robot}:{token}")));
    var started = Stopwatch.GetTimestamp();
    using var response = await http.SendAsync(request);
    response.EnsureSuccessStatusCode();
    if (i >= 2)
        exchangeOnly.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
}

var exchangeMedian = Median(exchangeOnly);
var coldWall = Median(samples[0].Select(s => s.WallMs));
var noExchangeWall = Median(samples[1].Select(s => s.WallMs));
var peakMib = samples.SelectMany(s => s).Max(s => s.PeakKib) / 1024.0;
var fileMib = new FileInfo(binary).Length / 1024.0 / 1024.0;

var section = new StringBuilder()
    .AppendLine("## Kubelet credential provider (native)")
    .AppendLine()
    .AppendLine(inv, $"Written by `make bench` (bench/provider.sh, bench/QuayAdmission.ProviderBench) on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. `{Path.GetFileName(binary)}` is the Native AOT linux-x64 publish ({fileMib:0.0} MiB). Each row execs it {runs} times with a CredentialProviderRequest on stdin, as the kubelet does, against the Quay stand-in over TLS (its own CA as the registry's CaFile) on loopback; the rows take turns. Wall time runs from `Process.Start` of `/usr/bin/time -f \"%M %U %S\"` to exit (GNU time adds one small exec); CPU time (user + system) and peak RSS come from GNU time. Two unmeasured runs first put the binary in the page cache, as on a node that has pulled before. Load average (1 min) at start / end: {loadBefore} / {loadAfter} on {Environment.ProcessorCount} cores: on a busy machine wall times stretch with the queue for a core, CPU times much less.")
    .AppendLine()
    .AppendLine("| exec to exit | wall median | wall min / max | CPU median | peak RSS |")
    .AppendLine("|---|---:|---:|---:|---:|");
for (var row = 0; row < rows.Length; row++)
{
    var s = samples[row];
    section.AppendLine(inv, $"| {rows[row].Name} | {Median(s.Select(x => x.WallMs)):0.0} ms | {s.Min(x => x.WallMs):0.0} / {s.Max(x => x.WallMs):0.0} ms | {Median(s.Select(x => x.CpuMs)):0} ms | {s.Max(x => x.PeakKib) / 1024.0:0.0} MiB |");
}
section.AppendLine(inv, $"| `/bin/true` under the same GNU time, for the machine's cost of an exec | {Median(floor.Select(x => x.WallMs)):0.0} ms | {floor.Min(x => x.WallMs):0.0} / {floor.Max(x => x.WallMs):0.0} ms | {Median(floor.Select(x => x.CpuMs)):0} ms | {floor.Max(x => x.PeakKib) / 1024.0:0.0} MiB |");
section
    .AppendLine()
    .AppendLine(inv, $"The exchange alone, from a warm process on a new TLS connection to the same stand-in: median {exchangeMedian:0.0} ms (min {exchangeOnly.Min():0.0}, max {exchangeOnly.Max():0.0}).")
    .AppendLine()
    .AppendLine("| target | measured | |")
    .AppendLine("|---|---|---|")
    .AppendLine(inv, $"| cold start (median) at most 30 ms plus the exchange | {noExchangeWall:0.0} ms without an exchange; {coldWall:0.0} ms with one, against {exchangeMedian:0.0} ms for the exchange from a warm process | {(noExchangeWall <= 30 ? "met without the exchange" : "**missed** without the exchange")}; {(coldWall - exchangeMedian <= 30 ? "met" : "**missed**")} with it |")
    .AppendLine(inv, $"| peak RSS at most 30 MiB | {peakMib:0.0} MiB, the largest of all runs | {(peakMib <= 30 ? "met" : "**missed**")} |");

Console.WriteLine(section);
WriteSection(doc, section.ToString());
work.Delete(recursive: true);
return 0;

static async Task<Exec> ExecAsync(string binary, string? config, string stdin, IReadOnlyDictionary<string, string> environment)
{
    var start = new ProcessStartInfo(GnuTime) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
    foreach (var arg in config is null ? ["-f", "%M %U %S", binary] : new[] { "-f", "%M %U %S", binary, "--config", config })
        start.ArgumentList.Add(arg);
    foreach (var (name, value) in environment)
        start.Environment[name] = value;
    var started = Stopwatch.GetTimestamp();
    using var process = Process.Start(start)!;
    var stdout = process.StandardOutput.ReadToEndAsync();
    var stderr = process.StandardError.ReadToEndAsync();
    await process.StandardInput.WriteAsync(stdin);
    process.StandardInput.Close();
    await process.WaitForExitAsync();
    var wall = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    // GNU time writes its line last on stderr; the plugin writes nothing there when it succeeds.
    var lines = (await stderr).Trim().Split('\n');
    if (process.ExitCode != 0 || (config is not null && !(await stdout).Contains("\"auth\"", StringComparison.Ordinal)) || lines.Length != 1)
        throw new InvalidOperationException($"{binary} failed (exit {process.ExitCode}): {await stderr}");
    var fields = lines[0].Split(' ');
    var cpuSeconds = double.Parse(fields[1], CultureInfo.InvariantCulture) + double.Parse(fields[2], CultureInfo.InvariantCulture);
    return new Exec(wall, cpuSeconds * 1000, long.Parse(fields[0], CultureInfo.InvariantCulture));
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

// run.sh rewrites the page whole; this section goes after it, replacing an earlier one of its own.
static void WriteSection(string doc, string section)
{
    const string Marker = "<!-- bench/provider.sh -->";
    var text = File.Exists(doc) ? File.ReadAllText(doc) : "# Benchmarks\n";
    var at = text.IndexOf(Marker, StringComparison.Ordinal);
    if (at >= 0)
        text = text[..at];
    File.WriteAllText(doc, text.TrimEnd() + "\n\n" + Marker + "\n" + section);
}

/// <summary>One exec: wall time seen by the bench, CPU time and peak RSS from GNU time.</summary>
internal sealed record Exec(double WallMs, double CpuMs, long PeakKib);
