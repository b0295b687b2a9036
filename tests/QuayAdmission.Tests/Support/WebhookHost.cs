using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using QuayAdmission.PullSecrets;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Tests.Support;

/// <summary>
/// The real webhook (WebApplicationFactory over Program) wired to the Kubernetes API and Quay
/// stand-ins over loopback HTTP, with a fake clock and captured logs.
/// </summary>
public sealed class WebhookHost : IAsyncDisposable
{
    public static readonly TimeSpan InlineBudget = TimeSpan.FromSeconds(2);

    private HttpClient? client;

    private readonly bool ownsStandIns;

    private WebhookHost(FakeTimeProvider time, FakeKubernetesApi kube, FakeQuay quay, WebApplicationFactory<Program> factory, bool ownsStandIns)
    {
        this.ownsStandIns = ownsStandIns;
        Time = time;
        Kube = kube;
        Quay = quay;
        Factory = factory;
    }

    /// <summary>In-memory client for TestServer hosts; https so /mutate accepts it.</summary>
    public HttpClient Client => client ??= Factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://localhost") });

    public FakeTimeProvider Time { get; }
    public FakeKubernetesApi Kube { get; }
    public FakeQuay Quay { get; }
    public WebApplicationFactory<Program> Factory { get; }
    /// <summary>With <c>kestrel: true</c>, the loopback ports of the webhook's listeners.</summary>
    public int HttpsPort { get; private init; }
    public int HealthPort { get; private init; }

    public FakeLogCollector Logs => Factory.Services.GetFakeLogCollector();

    /// <summary>The default registry's host, as pods name it.</summary>
    public string RegistryHost => Quay.Host;

    /// <summary>The deterministic name of the pull Secret the webhook injects for <paramref name="robot"/> at the default registry and a Pod's ServiceAccount.</summary>
    public string SecretName(string robot = "acme+puller", string serviceAccount = "default") =>
        PullSecretKey.NameFor(serviceAccount, RegistryHost, robot);

    public static async Task<WebhookHost> StartAsync(
        IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? services = null,
        FakeQuay? quay = null,
        bool kestrel = false,
        SharedStandIns? shared = null)
    {
        var time = shared?.Time ?? new FakeTimeProvider(DateTimeOffset.UtcNow);
        var kube = shared?.Kube ?? await FakeKubernetesApi.StartAsync(time);
        quay ??= shared?.Quay ?? await FakeQuay.StartAsync(time);

        var config = new Dictionary<string, string?>
        {
            ["QuayAdmission:Registries:0:Host"] = quay.Host,
            ["QuayAdmission:Registries:0:FederationUrl"] = quay.BaseAddress.ToString(),
            // The stand-in speaks plain http unless a test starts it with TLS.
            ["QuayAdmission:AllowInsecureHttp"] = (quay.BaseAddress.Scheme == Uri.UriSchemeHttp).ToString(),
            ["QuayAdmission:InlineBudget"] = InlineBudget.ToString(),
            ["QuayAdmission:ExchangeTimeout"] = "00:00:30",
            // The refresher works in the background against the same API; tests that want it turn it on.
            ["QuayAdmission:Refresher:Enabled"] = "false",
            // As `make run`: no certificate files; tests of readiness without one set it to false.
            ["QuayAdmission:Tls:AllowSelfSigned"] = "true",
        };
        if (kestrel)
        {
            config["QuayAdmission:Server:BindAddress"] = "127.0.0.1";
            config["QuayAdmission:Server:HttpsPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
            config["QuayAdmission:Server:HealthPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            config[key] = value;

        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in config)
                web.UseSetting(key, value);
            web.ConfigureLogging(logging => logging.AddFakeLogging().SetMinimumLevel(LogLevel.Debug));
            web.ConfigureTestServices(test =>
            {
                test.AddSingleton<TimeProvider>(time);
                test.AddSingleton(_ => kube.ClientConfiguration());
                services?.Invoke(test);
            });
        });
        try
        {
            StartServer(factory, kestrel);
        }
        catch
        {
            await factory.DisposeAsync();
            if (shared is null)
            {
                await quay.DisposeAsync();
                await kube.DisposeAsync();
            }
            throw;
        }
        // Tests count the calls they cause: the Secret cache's list and watch are not theirs.
        var secrets = factory.Services.GetRequiredService<ManagedSecretCache>();
        if (await Eventually.TrueAsync(() => secrets.HasSynced && kube.OpenWatchCount("secrets.watch") > 0) && shared is null)
            kube.ResetCounts();
        return new WebhookHost(time, kube, quay, factory, ownsStandIns: shared is null)
        {
            HttpsPort = int.Parse(config.GetValueOrDefault("QuayAdmission:Server:HttpsPort") ?? "0", System.Globalization.CultureInfo.InvariantCulture),
            HealthPort = int.Parse(config.GetValueOrDefault("QuayAdmission:Server:HealthPort") ?? "0", System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    private static void StartServer(WebApplicationFactory<Program> factory, bool kestrel)
    {
        if (kestrel)
        {
            // A real Kestrel with the webhook's own listeners, for what TestServer cannot show: TLS handshakes.
            factory.UseKestrel(_ => { });
            factory.StartServer();
        }
        else
        {
            _ = factory.Server; // start now: options are validated at start
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Lets Quay accept the pod's ServiceAccount for <paramref name="robot"/>, as an org admin would.</summary>
    public void Trust(string robot, string ns = "team-a", string serviceAccount = "default") =>
        Quay.TrustSubject(robot, Kube.Issuer, $"system:serviceaccount:{ns}:{serviceAccount}");

    public async Task<AdmissionResult> PostAsync(string reviewJson, string contentType = "application/json")
    {
        using var content = new StringContent(reviewJson, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await Client.PostAsync(new Uri("/mutate", UriKind.Relative), content);
        return await AdmissionResult.ReadAsync(response);
    }

    public Task<AdmissionResult> AdmitAsync(string podJson, string? uid = null, bool dryRun = false) =>
        PostAsync(Reviews.Create(podJson, uid, dryRun: dryRun));

    /// <summary>Every captured log line, formatted, for secret checks.</summary>
    public IReadOnlyList<string> LogLines() =>
        Logs.GetSnapshot().Select(r => $"{r.Level} {r.Category} {r.Message} {r.Exception}").ToList();

    public async ValueTask DisposeAsync()
    {
        client?.Dispose();
        await Factory.DisposeAsync();
        if (ownsStandIns)
        {
            await Quay.DisposeAsync();
            await Kube.DisposeAsync();
        }
    }
}

/// <summary>What /mutate answered: the HTTP status, and for 200 the review's response.</summary>
public sealed record AdmissionResult(HttpStatusCode Status, string Body, JsonNode? Response)
{
    public static async Task<AdmissionResult> ReadAsync(HttpResponseMessage http)
    {
        var body = await http.Content.ReadAsStringAsync();
        var response = http.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(body)!["response"] : null;
        return new AdmissionResult(http.StatusCode, body, response);
    }

    public string? Uid => Response?["uid"]?.GetValue<string>();
    public bool Allowed => Response!["allowed"]!.GetValue<bool>();
    public bool HasPatch => Response?["patch"] is not null || Response?["patchType"] is not null;
    public byte[] Patch => Convert.FromBase64String(Response!["patch"]!.GetValue<string>());
    public int? Code => Response?["status"]?["code"]?.GetValue<int>();
    public string? Message => Response?["status"]?["message"]?.GetValue<string>();

    public IReadOnlyList<string> Warnings =>
        Response?["warnings"]?.AsArray().Select(w => w!.GetValue<string>()).ToList() ?? [];

    /// <summary>The pod after applying the returned patch (or unchanged when there is none).</summary>
    public JsonNode Apply(string podJson) => HasPatch ? JsonPatchApplier.Apply(podJson, Patch) : JsonNode.Parse(podJson)!;
}

/// <summary>Stand-ins and a clock shared by several webhook replicas (leader election tests); disposed by the test.</summary>
public sealed record SharedStandIns(FakeTimeProvider Time, FakeKubernetesApi Kube, FakeQuay Quay) : IAsyncDisposable
{
    public static async Task<SharedStandIns> StartAsync()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        return new SharedStandIns(time, await FakeKubernetesApi.StartAsync(time), await FakeQuay.StartAsync(time));
    }

    public async ValueTask DisposeAsync()
    {
        await Quay.DisposeAsync();
        await Kube.DisposeAsync();
    }
}
