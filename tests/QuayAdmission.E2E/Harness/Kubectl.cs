using QuayAdmission.Tests.Manifests;

namespace QuayAdmission.E2E.Harness;

/// <summary>
/// kubectl as a user runs it, with one kubeconfig. Each command and its exit code go to the scenario's
/// log; its output too unless it is <see cref="Secret"/> (a token), which is never written anywhere.
/// </summary>
internal sealed class Kubectl(string kubeconfig, ScenarioLog log)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);

    private static readonly string Binary = ExternalTool.Find("kubectl") ?? throw new InvalidOperationException("kubectl is not on PATH");

    public string Kubeconfig { get; } = kubeconfig;

    public Task<ToolResult> RunAsync(params string[] arguments) => RunAsync(arguments, input: null, secret: false);

    /// <summary>Runs and fails with the command's stderr when it exits non-zero.</summary>
    public async Task<string> MustAsync(params string[] arguments) => Checked(arguments, await RunAsync(arguments)).Stdout;

    /// <summary>Feeds <paramref name="input"/> (YAML or JSON) on stdin, e.g. <c>apply -f -</c>.</summary>
    public async Task<string> MustWithInputAsync(string input, params string[] arguments) =>
        Checked(arguments, await RunAsync(arguments, input, secret: false)).Stdout;

    public Task<ToolResult> WithInputAsync(string input, params string[] arguments) => RunAsync(arguments, input, secret: false);

    /// <summary>A command whose stdout is a credential: logged as "(N bytes, not shown)".</summary>
    public Task<ToolResult> SecretAsync(params string[] arguments) => RunAsync(arguments, input: null, secret: true);

    private async Task<ToolResult> RunAsync(IReadOnlyList<string> arguments, string? input, bool secret)
    {
        var result = await ExternalTool.RunAsync(Binary, ["--kubeconfig", Kubeconfig, .. arguments], RepoPaths.Root, timeout: CommandTimeout, standardInput: input);
        var output = secret ? $"({result.Stdout.Trim().Length} bytes, not shown)" : Shorten(result.Stdout);
        log.Line($"$ kubectl {string.Join(' ', arguments)} -> exit {result.ExitCode} {output}{(result.Stderr.Length > 0 ? " stderr: " + Shorten(result.Stderr) : "")}");
        return result;
    }

    private static ToolResult Checked(IReadOnlyList<string> arguments, ToolResult result) =>
        result.ExitCode == 0 ? result : throw new InvalidOperationException($"kubectl {string.Join(' ', arguments)} failed (exit {result.ExitCode}): {result.Stderr.Trim()}");

    private static string Shorten(string text)
    {
        var flat = text.Trim().Replace('\n', ' ');
        return flat.Length <= 300 ? flat : flat[..300] + " ...";
    }
}
