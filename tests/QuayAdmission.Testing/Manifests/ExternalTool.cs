using System.Diagnostics;

namespace QuayAdmission.Tests.Manifests;

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n{Stdout}\n{Stderr}";
}

/// <summary>Runs the command-line tools the deployment relies on (kubectl, bash, openssl, dotnet).</summary>
public static class ExternalTool
{
    public static string? Find(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// The tool's path. Without it the test ends here and is reported skipped, with the reason and
    /// <paramref name="notChecked"/> (what goes unchecked), never passed: the test must be a
    /// <c>[SkippableFact]</c> or <c>[SkippableTheory]</c> (in a plain <c>[Fact]</c> the skip is a failure).
    /// Whatever the test asserted before the call still counts: a failure there fails it.
    /// </summary>
    public static string Require(string name, string notChecked) =>
        Find(name) ?? throw new SkipException($"{name} is not on PATH: {notChecked}");

    public static async Task<ToolResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null,
        string? standardInput = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = standardInput is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(1));
        var stdout = process.StandardOutput.ReadToEndAsync(cancel.Token);
        var stderr = process.StandardError.ReadToEndAsync(cancel.Token);
        try
        {
            if (standardInput is not null)
            {
                await process.StandardInput.WriteAsync(standardInput.AsMemory(), cancel.Token);
                process.StandardInput.Close();
            }

            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish in time");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }
}
