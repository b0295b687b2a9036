using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.CredentialProvider.Tests;

/// <summary>
/// What a node's plugin talks to, on loopback: the Kubernetes API stand-in as the token issuer (the
/// kubelet gets the Pod's ServiceAccount token from it) and one or two Quay stand-ins over TLS with
/// their own CAs, plus the JSON configuration file the kubelet passes with --config.
/// </summary>
public sealed class ProviderWorld : IAsyncDisposable
{
    public const string Robot = "acme+puller";
    public const string Namespace = "team-a";
    public const string ServiceAccount = "builder";
    public const string Subject = $"system:serviceaccount:{Namespace}:{ServiceAccount}";

    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("quay-credential-provider-");

    private ProviderWorld(FakeKubernetesApi kube, FakeQuay quay, FakeQuay second)
    {
        Kube = kube;
        Quay = quay;
        Second = second;
    }

    public FakeKubernetesApi Kube { get; }

    /// <summary>Registry 0, the default one.</summary>
    public FakeQuay Quay { get; }

    /// <summary>Registry 1.</summary>
    public FakeQuay Second { get; }

    public string ConfigFile => Path.Combine(directory.FullName, "quay-credential-provider.json");

    public static async Task<ProviderWorld> StartAsync()
    {
        var kube = await FakeKubernetesApi.StartAsync(TimeProvider.System);
        var world = new ProviderWorld(kube, await FakeQuay.StartAsync(TimeProvider.System, https: true), await FakeQuay.StartAsync(TimeProvider.System, https: true));
        world.WriteConfig();
        return world;
    }

    /// <summary>The configuration file, as the webhook's settings section; <paramref name="change"/> edits it first.</summary>
    public void WriteConfig(Action<JsonObject>? change = null)
    {
        var section = new JsonObject
        {
            ["Registries"] = new JsonArray(Registry(Quay, "quay-ca.pem"), Registry(Second, "second-ca.pem")),
            ["MinRemaining"] = "00:10:00",
        };
        change?.Invoke(section);
        File.WriteAllText(ConfigFile, new JsonObject { ["QuayAdmission"] = section }.ToJsonString());
    }

    public JsonObject Registry(FakeQuay quay, string caFileName) => new()
    {
        ["Host"] = quay.Host,
        ["FederationUrl"] = quay.BaseAddress.ToString(),
        ["CaFile"] = quay.WriteCaFile(Path.Combine(directory.FullName, caFileName)),
    };

    /// <summary>A token of the Pod's ServiceAccount as the kubelet obtains it: a TokenRequest for the provider's audience.</summary>
    public async Task<string> TokenAsync(string? audience = null, string serviceAccount = ServiceAccount)
    {
        using var client = new k8s.Kubernetes(Kube.ClientConfiguration());
        var request = new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = [audience ?? Quay.Host], ExpirationSeconds = 600 } };
        return (await client.CoreV1.CreateNamespacedServiceAccountTokenAsync(request, serviceAccount, Namespace)).Status.Token;
    }

    /// <summary>A CredentialProviderRequest as the kubelet writes it.</summary>
    public static string Request(string image, string? token, IReadOnlyDictionary<string, string>? annotations = null)
    {
        var request = new JsonObject
        {
            ["apiVersion"] = "credentialprovider.kubelet.k8s.io/v1",
            ["kind"] = "CredentialProviderRequest",
            ["image"] = image,
        };
        if (token is not null)
            request["serviceAccountToken"] = token;
        if (annotations is not null)
            request["serviceAccountAnnotations"] = new JsonObject(annotations.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value)));
        return request.ToJsonString();
    }

    public static Dictionary<string, string> Annotated(string robots) => new() { ["quay-admission.io/robot-account"] = robots };

    /// <summary>Trusts the world's ServiceAccount for <paramref name="robot"/> at <paramref name="quay"/> (default registry 0).</summary>
    public void Trust(string robot = Robot, FakeQuay? quay = null) => (quay ?? Quay).TrustSubject(robot, Kube.Issuer, Subject);

    public Task<ProviderRun> RunAsync(string stdin, IReadOnlyDictionary<string, string>? environment = null) =>
        ProviderBinary.RunAsync(stdin, ["--config", ConfigFile], environment);

    public async ValueTask DisposeAsync()
    {
        await Second.DisposeAsync();
        await Quay.DisposeAsync();
        await Kube.DisposeAsync();
        directory.Delete(recursive: true);
    }
}
