using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.Demo;

/// <summary>
/// The second mode: the kubelet credential provider exec'd as a kubelet would, with a request on stdin,
/// against the same Quay stand-in. The JIT build (<c>dotnet quay-credential-provider.dll</c>) keeps the
/// demo fast; nodes run the Native AOT file (`make provider`), which `make test` drives.
/// </summary>
public static class ProviderDemo
{
    public static async Task RunAsync(string dll, FakeKubernetesApi kube, FakeQuay quay, string caFile, string work)
    {
        var config = Path.Combine(work, "quay-admission.json");
        await File.WriteAllTextAsync(config, new JsonObject
        {
            ["QuayAdmission"] = new JsonObject
            {
                ["Registries"] = new JsonArray(new JsonObject { ["Host"] = quay.Host, ["FederationUrl"] = quay.BaseAddress.ToString(), ["CaFile"] = caFile }),
            },
        }.ToJsonString());
        Console.WriteLine($"quay-credential-provider (JIT build for the demo) --config {config}");

        await PullAsync("5. The kubelet pulls for a Pod of team-a/default (its ServiceAccount names acme+puller)", "default");
        await PullAsync("6. The kubelet pulls for a Pod of team-a/intruder, which Quay does not trust", "intruder");

        async Task PullAsync(string title, string serviceAccount)
        {
            Console.WriteLine($"\n== {title}");
            quay.ResetCounts();
            // The kubelet's own TokenRequest, for the audience of the provider's tokenAttributes.
            using var api = new k8s.Kubernetes(kube.ClientConfiguration());
            var token = (await api.CoreV1.CreateNamespacedServiceAccountTokenAsync(
                new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { Audiences = [quay.Host], ExpirationSeconds = 600 } }, serviceAccount, "team-a")).Status.Token;
            var request = new JsonObject
            {
                ["apiVersion"] = "credentialprovider.kubelet.k8s.io/v1",
                ["kind"] = "CredentialProviderRequest",
                ["image"] = $"{quay.Host}/acme/app:1.0",
                ["serviceAccountToken"] = token,
                ["serviceAccountAnnotations"] = new JsonObject { ["quay-admission.io/robot-account"] = "acme+puller" },
            };
            Console.WriteLine($"stdin:  {Shortened(request.DeepClone().AsObject(), "serviceAccountToken")}");

            var start = new ProcessStartInfo("dotnet", [dll, "--config", config]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.StandardInput.WriteAsync(request.ToJsonString());
            process.StandardInput.Close();
            await process.WaitForExitAsync();

            Console.WriteLine($"exit:   {process.ExitCode}");
            var answer = await stdout;
            Console.WriteLine($"stdout: {(answer.Length == 0 ? "(nothing)" : Shortened(JsonNode.Parse(answer)!.AsObject(), "password"))}");
            var refusal = (await stderr).Trim();
            Console.WriteLine($"stderr: {(refusal.Length == 0 ? "(nothing)" : refusal)}");
            var exchanges = quay.Exchanges.Select(e => $"{e.Robot} as {e.Subject} -> {e.StatusCode}{(e.Error is null ? "" : " " + e.Error)}").ToList();
            Console.WriteLine($"Quay exchanges: {(exchanges.Count == 0 ? "none" : string.Join(", ", exchanges))}");
        }
    }

    // Tokens by their first characters only, wherever the field sits.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Shortened(JsonObject json, string field)
    {
        Shorten(json, field);
        return json.ToJsonString(Readable);
    }

    private static void Shorten(JsonNode node, string field)
    {
        if (node is not JsonObject obj)
            return;
        foreach (var (key, value) in obj.ToList())
        {
            if (key == field && value is JsonValue v && v.TryGetValue<string>(out var text))
                obj[key] = text[..Math.Min(12, text.Length)] + $"...({text.Length} chars)";
            else if (value is not null)
                Shorten(value, field);
        }
    }
}
