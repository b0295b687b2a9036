using System.Text;
using System.Text.Json.Nodes;
using k8s;
using Microsoft.Extensions.Logging;
using QuayAdmission.Tests.Fakes;
using QuayAdmission.Tests.Support;

namespace QuayAdmission.Tests.Hardening;

/// <summary>
/// The whole token flow at Trace level, including Quay error pages that echo a token back: no robot token,
/// no ServiceAccount JWT (every JWT starts with "eyJ", base64 of '{"'), and no Basic credential may appear in a
/// log line, an exception, a response (warning, status message, patch) or a Kubernetes Event.
/// </summary>
public sealed class SecretLeakTests
{
    private const string Robot = "acme+puller";

    // base64("acme+puller:") is 16 characters with no padding, so it starts every Basic credential and dockerconfig "auth" for the robot.
    private static readonly string BasicPrefix = Convert.ToBase64String(Encoding.UTF8.GetBytes(Robot + ":"));

    private static readonly Dictionary<string, string?> TraceLogging = new()
    {
        // appsettings.json lowers these to Information and Warning; the secret check is only worth it with everything on.
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Trace",
    };

    [Fact]
    public async Task No_token_appears_in_logs_answers_or_events()
    {
        var shown = new List<string>();
        var tokens = new List<string>();

        await using (var host = await StartAsync("Inject"))
        {
            // A fresh mint, a renewal after 55 minutes, and a dry run.
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json())));
            host.Time.Advance(TimeSpan.FromMinutes(55));
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json(name: "web-1"))));
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json(name: "web-2"), dryRun: true)));
            Assert.Equal(2, host.Quay.Exchanges.Count(e => e.Succeeded));

            // A failing renewal whose error page echoes the current token: the still-valid token is kept.
            host.Time.Advance(TimeSpan.FromMinutes(55));
            host.Quay.Behaviour = QuayBehaviour.Status(500, Echo(host, "error"));
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json(name: "web-3"))));

            // The token has expired and Quay refuses, echoing it in every field it has: the pod gets a warning.
            host.Time.Advance(TimeSpan.FromMinutes(30));
            host.Quay.Behaviour = QuayBehaviour.Status(401, Echo(host, "error_description"));
            var refused = await host.AdmitAsync(Pods.Json(name: "web-4"));
            Assert.Single(refused.Warnings);
            shown.AddRange(Shown(refused));

            // Quay answers 200 with something that is not a usable token; then the connection resets; then the TokenRequest fails.
            host.Quay.Behaviour = QuayBehaviour.Status(200, $$"""{"token":"{{LastToken(host)}}.extra"}""");
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json(name: "web-5"))));
            host.Quay.Behaviour = QuayBehaviour.Reset;
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json(name: "web-6"))));
            host.Quay.Behaviour = QuayBehaviour.Normal;
            host.Kube.SetFault("tokenrequest", Fault.Status(500) with { Times = 1 });
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json(name: "web-7"))));

            Assert.Contains(host.Logs.GetSnapshot(), r => r.Level <= LogLevel.Debug);
            Collect(host, shown, tokens);
        }

        await using (var host = await StartAsync("Deny"))
        {
            // Deny carries Quay's reason into the status message.
            shown.AddRange(Shown(await host.AdmitAsync(Pods.Json())));
            host.Time.Advance(TimeSpan.FromHours(1));
            host.Quay.Behaviour = QuayBehaviour.Status(403, Echo(host, "message"));
            var denied = await host.AdmitAsync(Pods.Json(name: "web-1"));
            Assert.False(denied.Allowed);
            shown.AddRange(Shown(denied));
            Collect(host, shown, tokens);
        }

        Assert.True(tokens.Count >= 3, "too few tokens were issued for the check to mean anything");
        Assert.All(shown, text =>
        {
            Assert.DoesNotContain("eyJ", text, StringComparison.Ordinal);
            Assert.DoesNotContain(BasicPrefix, text, StringComparison.Ordinal);
            Assert.All(tokens, token => Assert.DoesNotContain(token, text, StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task An_echoed_basic_credential_is_not_shown()
    {
        await using var host = await StartAsync("Deny");
        Assert.True((await host.AdmitAsync(Pods.Json())).HasPatch);
        host.Time.Advance(TimeSpan.FromHours(1));
        // The webhook sends Basic base64("acme+puller:<ServiceAccount JWT>"); a JWT stands in for the one it presented.
        var credential = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Robot}:{LastToken(host)}"));
        host.Quay.Behaviour = QuayBehaviour.Status(401, new JsonObject { ["error"] = $"invalid Authorization: Basic {credential}" }.ToJsonString());

        var denied = await host.AdmitAsync(Pods.Json(name: "web-1"));

        Assert.False(denied.Allowed);
        Assert.All(Shown(denied).Concat(host.LogLines()), text => Assert.DoesNotContain(BasicPrefix, text, StringComparison.Ordinal));
    }

    private static async Task<WebhookHost> StartAsync(string policy)
    {
        var host = await WebhookHost.StartAsync(new Dictionary<string, string?>(TraceLogging) { ["QuayAdmission:OnTokenFailure"] = policy });
        host.Trust(Robot);
        return host;
    }

    private static string LastToken(WebhookHost host) => host.Quay.Exchanges.Last(e => e.Succeeded).IssuedToken!;

    /// <summary>A Quay error body that repeats the last issued token, as a careless error page might.</summary>
    private static string Echo(WebhookHost host, string field) =>
        new JsonObject { [field] = $"token {LastToken(host)} is not acceptable" }.ToJsonString();

    /// <summary>What a person sees of an answer: the raw body with the patch decoded (base64 of JSON can contain "eyJ" by chance).</summary>
    private static IEnumerable<string> Shown(AdmissionResult result)
    {
        if (result.Response is null)
            return [result.Body];
        var response = result.Response.DeepClone().AsObject();
        var patch = result.HasPatch ? Encoding.UTF8.GetString(result.Patch) : "";
        response.Remove("patch");
        return [response.ToJsonString(), patch, .. result.Warnings, result.Message ?? ""];
    }

    private static void Collect(WebhookHost host, List<string> shown, List<string> tokens)
    {
        tokens.AddRange(host.Quay.Exchanges.Select(e => e.IssuedToken).OfType<string>());
        shown.AddRange(host.LogLines());
        shown.AddRange(host.Kube.Events.Select(e => KubernetesJson.Serialize(e)));
        shown.AddRange(host.Kube.EventsV1Json);
    }
}
