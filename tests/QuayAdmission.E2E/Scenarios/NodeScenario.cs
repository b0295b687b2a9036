using System.Diagnostics;
using k8s.Models;
using QuayAdmission.E2E.Harness;
using QuayAdmission.Tests.Fakes;

namespace QuayAdmission.E2E.Scenarios;

/// <summary>
/// 4. On the real node, pulling from the private registry quay.local that checks each robot token:
/// an annotated Pod runs; a Pod admitted while Quay does not trust its ServiceAccount (so its Secret is a
/// placeholder and its pull is refused) runs by itself once Quay trusts it, neither it nor its Secret
/// re-created; a container that exits every 30 s with imagePullPolicy Always keeps pulling, for five
/// minutes, across token expiries, with no pull refused for its robot.
/// </summary>
internal sealed class NodeScenario : IScenario
{
    private const string Ns = E2ENamespaces.Node;
    private const string AppRobot = "acme+app";
    private const string LateRobot = "acme+late";
    private const string LoopRobot = "acme+loop";
    private static readonly TimeSpan LoopFor = TimeSpan.FromMinutes(5);
    private static readonly string[] Crashing = ["sh", "-c", "sleep 30; exit 1"];

    public int Number => 4;

    public string Name => "node";

    public async Task<string> RunAsync(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var node = await context.NodeAsync();
        context.Watch(context.Main);
        await context.CreateNamespaceAsync(Ns, context.Main.Spec.Name, "app", "late", "loop");
        context.Trust(AppRobot, Ns, "app");
        context.Trust(LoopRobot, Ns, "loop");
        // The robot exists, and trusts someone else: Quay refuses this ServiceAccount's token until told otherwise.
        context.Trust(LateRobot, Ns, "someone-else");

        // The longest part first; the others run within its five minutes.
        var loopCreated = DateTimeOffset.UtcNow;
        await context.CreatePodAsync(E2EPods.Json(Ns, "loop", "loop", LoopRobot, onNode: true, command: Crashing));
        var loopRunning = await RunningAsync(context, "loop", TimeSpan.FromMinutes(3));
        var loopStarted = DateTimeOffset.UtcNow;

        var appClock = Stopwatch.StartNew();
        await context.CreatePodAsync(E2EPods.Json(Ns, "app", "app", AppRobot, onNode: true));
        await RunningAsync(context, "app", TimeSpan.FromMinutes(3));
        context.Measured($"annotated Pod Running after {Figures.Seconds(appClock.Elapsed)}");

        await TrustLaterAsync(context);

        // The loop: five minutes of restarts, each one a pull with whatever token the Secret holds then.
        var remaining = LoopFor - (DateTimeOffset.UtcNow - loopStarted);
        await Poll.ConsistentlyAsync($"Pod loop stays on the node for {Figures.Seconds(LoopFor)}", remaining, async () =>
        {
            var pod = await context.Api.PodOrNullAsync(Ns, "loop");
            return (pod?.Metadata.Uid == loopRunning.Metadata.Uid && pod.Status?.Phase is "Running" or "Pending", $"{pod?.Status?.Phase} restarts {Restarts(pod)}");
        }, TimeSpan.FromSeconds(10));
        var loop = (await context.Api.PodOrNullAsync(Ns, "loop"))!;
        var requests = (await node.PullsAsync()).Where(p => p.Robot == LoopRobot && p.At >= loopCreated).ToList();
        var refused = requests.Where(p => !p.Ok).ToList();
        var firstExpiry = FirstTokenExpiry(context.Exchanges(LoopRobot, Ns, "loop"));
        var afterExpiry = requests.Count(p => p.Ok && p.At > firstExpiry);
        context.Measured($"pull loop {Figures.Seconds(LoopFor)}: {Restarts(loop)} restarts, registry requests ok {requests.Count - refused.Count} / refused {refused.Count} ({afterExpiry} ok after the first token expired)");
        Assert.True(refused.Count == 0, $"the registry refused {refused.Count} requests of {LoopRobot}: {string.Join("; ", refused.Take(5))}");
        // The kubelet's crash-loop backoff (10 s, doubling) spaces the restarts: 4 or 5 in five minutes.
        Assert.True(Restarts(loop) >= 3, $"the container restarted {Restarts(loop)} times in {Figures.Seconds(LoopFor)}");
        Assert.True(afterExpiry > 0, "no pull after the first token's expiry: the loop did not cross a renewal");
        return string.Join("; ", context.Figures);
    }

    /// <summary>A Pod admitted while Quay refuses its ServiceAccount: a placeholder, a refused pull; then trust, and it runs unaided.</summary>
    private static async Task TrustLaterAsync(ScenarioContext context)
    {
        var secretName = SecretNames.For(E2ESettings.RegistryHost, LateRobot, "late");
        var created = await context.CreatePodAsync(E2EPods.Json(Ns, "late", "late", LateRobot, onNode: true));
        Assert.Contains(secretName, created.Spec.ImagePullSecrets?.Select(s => s.Name) ?? []);
        // Admission leaves the placeholder before it answers.
        var placeholder = await Poll.UntilAsync($"placeholder Secret {secretName}", TimeSpan.FromSeconds(30), async () =>
        {
            var view = await context.Api.PullSecretAsync(Ns, secretName);
            return (view is not null, view!);
        });
        Assert.False(placeholder.HasToken, $"Quay does not trust late yet, but its Secret holds a token: {placeholder}");
        await Poll.UntilAsync("Pod late cannot pull (its Secret is a placeholder)", TimeSpan.FromMinutes(2), async () =>
        {
            var pod = await context.Api.PodOrNullAsync(Ns, "late");
            var waiting = pod?.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting?.Reason;
            return (waiting is "ErrImagePull" or "ImagePullBackOff", waiting ?? pod?.Status?.Phase);
        });

        context.Quay.TrustSubject(LateRobot, ControlPlane.Issuer, ScenarioContext.Subject(Ns, "late"));
        var trusted = Stopwatch.StartNew();
        var running = await RunningAsync(context, "late", TimeSpan.FromMinutes(5));
        context.Measured($"Pod admitted before Quay trusted it Running {Figures.Seconds(trusted.Elapsed)} after trust");
        Assert.Equal(created.Metadata.Uid, running.Metadata.Uid);
        var filled = (await context.Api.PullSecretAsync(Ns, secretName))!;
        Assert.True(filled.HasToken && filled.Uid == placeholder.Uid, $"the placeholder was not filled in place: before {placeholder}, after {filled}");
    }

    private static async Task<V1Pod> RunningAsync(ScenarioContext context, string name, TimeSpan within) =>
        (await Poll.UntilAsync($"Pod {Ns}/{name} is Running", within, async () =>
        {
            var pod = await context.Api.PodOrNullAsync(Ns, name);
            var waiting = pod?.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting?.Reason;
            return (pod?.Status?.Phase == "Running", new Observed<V1Pod?>(pod, pod is null ? "no Pod" : $"{pod.Status?.Phase} {waiting}"));
        }, TimeSpan.FromMilliseconds(500))).Value!;

    private static int Restarts(V1Pod? pod) => pod?.Status?.ContainerStatuses?.FirstOrDefault()?.RestartCount ?? 0;

    private static DateTimeOffset FirstTokenExpiry(IReadOnlyList<ExchangeRecord> exchanges) =>
        exchanges.FirstOrDefault(e => e.Succeeded)?.IssuedToken is { } token && FakeJwt.Parse(token).ExpiresAt is { } expires
            ? expires
            : throw new InvalidOperationException("Quay issued no token for the loop's key");
}
