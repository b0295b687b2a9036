using System.Diagnostics;
using System.Text;

namespace QuayAdmission.CredentialProvider.Tests;

/// <summary>
/// The plugin as the kubelet runs it: a fresh process per request, JSON on stdin, the answer read from
/// the exit code, stdout and stderr. The native binary comes from QUAY_CREDENTIAL_PROVIDER_BIN (set by
/// `make test`); without it, CI fails loudly and a developer's `dotnet test` runs the JIT build instead.
/// </summary>
public static class ProviderBinary
{
    public const string Variable = "QUAY_CREDENTIAL_PROVIDER_BIN";

    // Generous: a cold native start is milliseconds, but CI machines are shared and a TLS exchange is in it.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static readonly Lazy<(string File, string[] Prefix)> Command = new(Locate);

    /// <summary>True when the tests run the published native binary rather than the JIT build.</summary>
    public static bool IsNative => Command.Value.Prefix.Length == 0;

    public static async Task<ProviderRun> RunAsync(string stdin, IReadOnlyList<string>? args = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var (file, prefix) = Command.Value;
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        foreach (var arg in prefix.Concat(args ?? []))
            start.ArgumentList.Add(arg);
        // Only what the test gives: the machine's own QuayAdmission__ variables must not leak in.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("QuayAdmission", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It exited without reading its input (bad arguments are refused first): its exit and stderr tell.
        }
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not exit within {Timeout.TotalSeconds:0} s");
        }
        return new ProviderRun(process.ExitCode, await stdout, await stderr);
    }

    private static (string File, string[] Prefix) Locate()
    {
        var native = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(native))
        {
            return File.Exists(native)
                ? (Path.GetFullPath(native), [])
                : throw new InvalidOperationException($"{Variable}={native}, but no such file: run `make test`, which publishes it");
        }
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"{Variable} is not set: under CI these tests must drive the published native binary (`make test` publishes it and sets the variable)");
        // The JIT build in its own output folder, where its runtimeconfig and dependencies are; the
        // project reference builds it in the tests' configuration (bin/<configuration>/net10.0/).
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = output.Parent!.Name;
        var root = output;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "QuayAdmission.sln")))
            root = root.Parent;
        var jit = Path.Combine(root?.FullName ?? ".", "src", "QuayAdmission.CredentialProvider", "bin", configuration, output.Name, "quay-credential-provider.dll");
        return File.Exists(jit)
            ? (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [jit])
            : throw new InvalidOperationException($"{Variable} is not set and the JIT build {jit} is missing: build the solution or run `make test`");
    }
}

/// <summary>One exec of the plugin: what the kubelet would see.</summary>
public sealed record ProviderRun(int ExitCode, string Stdout, string Stderr)
{
    public IReadOnlyList<string> StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}
