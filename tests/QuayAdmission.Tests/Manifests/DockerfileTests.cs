namespace QuayAdmission.Tests.Manifests;

public sealed class DockerfileTests : IDisposable
{
    private static readonly Dockerfile Image = Dockerfile.Parse(RepoPaths.Read("Dockerfile"));

    private readonly DirectoryInfo temp = Directory.CreateTempSubdirectory("quay-admission-publish-");

    public void Dispose() => temp.Delete(recursive: true);

    [Fact]
    public void Restore_runs_on_the_project_files_before_the_sources_are_copied()
    {
        var build = Image.Build.ToList();
        var restore = build.FindIndex(i => i.Instruction == "RUN" && i.Arguments.StartsWith("dotnet restore", StringComparison.Ordinal));
        var sources = build.FindIndex(i => i.Instruction == "COPY" && i.Arguments == "src/ src/");

        Assert.InRange(restore, 0, sources - 1);
        var copiedBeforeRestore = build.Take(restore).Where(i => i.Instruction == "COPY").SelectMany(i => CopySources(i.Arguments));
        Assert.All(copiedBeforeRestore, file => Assert.Matches(@"(\.csproj|\.props|\.targets|global\.json|\.editorconfig)$", file));
    }

    [Fact]
    public void Every_file_the_build_copies_exists()
    {
        var copied = Image.Build.Where(i => i.Instruction == "COPY").SelectMany(i => CopySources(i.Arguments)).ToList();

        // The build settings travel with the sources: Directory.Build.props turns analyzer
        // warnings into errors and .editorconfig sets their severities.
        Assert.Superset(
            new HashSet<string> { "global.json", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", ".editorconfig", "src/QuayAdmission/QuayAdmission.csproj", "src/QuayAdmission.Federation/QuayAdmission.Federation.csproj", "src/" },
            copied.ToHashSet());
        Assert.All(copied, path => Assert.True(File.Exists(Path.Combine(RepoPaths.Root, path)) || Directory.Exists(Path.Combine(RepoPaths.Root, path)), path));
    }

    [Fact]
    public void Native_build_on_the_AOT_SDK_runs_on_chiseled_runtime_deps()
    {
        var runtime = Image.Runtime.ToLookup(i => i.Instruction, i => i.Arguments);

        Assert.Equal("--platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:10.0-noble-aot AS build", Image.Build[0].Arguments);
        // No .NET runtime in the image: the executable carries its own.
        Assert.Equal("mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled", Assert.Single(runtime["FROM"]));
        Assert.Equal("$APP_UID", Assert.Single(runtime["USER"]));
        Assert.Equal("8443 8080", Assert.Single(runtime["EXPOSE"]));
        Assert.Equal("""["/app/QuayAdmission"]""", Assert.Single(runtime["ENTRYPOINT"]));
        Assert.Equal("--from=build /app/QuayAdmission /app/appsettings.json ./", Assert.Single(runtime["COPY"]));
        Assert.Contains("-a $TARGETARCH -o /app", PublishCommand(), StringComparison.Ordinal);
    }

    [Fact]
    public void Dockerignore_keeps_build_output_git_and_tests_out()
    {
        var ignored = RepoPaths.Read(".dockerignore").Split('\n').Select(l => l.Trim()).ToHashSet();

        Assert.Superset(new HashSet<string> { "**/bin/", "**/obj/", ".git/", "tests/", "certs/out/", "**/*.key" }, ignored);
        Assert.DoesNotContain(".editorconfig", ignored);
    }

    [SkippableFact]
    public async Task Make_publish_native_runs_the_Dockerfile_restore_and_publish()
    {
        Assert.Contains("sed -n 's/^ARG PUBLISH_ARGS=", RepoPaths.Read("Makefile"), StringComparison.Ordinal);
        var make = ExternalTool.Require("make", "checked that the Makefile reads PUBLISH_ARGS from the Dockerfile, not the commands `make publish-native` runs");

        // -B: print the commands even when the executable is up to date.
        var result = await ExternalTool.RunAsync(make, ["-s", "-n", "-B", "publish-native", "ARCH=arm64"], RepoPaths.Root);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Contains(RunLine("dotnet restore").Replace("$TARGETARCH", "arm64", StringComparison.Ordinal), lines);
        Assert.Contains(PublishCommand().Replace("$TARGETARCH", "arm64", StringComparison.Ordinal).Replace("-o /app", "-o artifacts/native/quay-admission", StringComparison.Ordinal), lines);
    }

    /// <summary>
    /// The build stage outside docker: its COPY lines into an empty directory, then its dotnet RUN
    /// lines with <c>build</c> for <c>publish</c>. What the image compiles builds from what the image
    /// copies; the native compile of the same sources is `make publish-native`, which the smoke suite runs.
    /// </summary>
    [Fact]
    public async Task The_build_stage_compiles_from_what_it_copies()
    {
        var context = Directory.CreateDirectory(Path.Combine(temp.FullName, "src"));
        var app = Path.Combine(temp.FullName, "app");
        foreach (var source in Image.Build.Where(i => i.Instruction == "COPY").SelectMany(i => CopySources(i.Arguments)))
        {
            CopyIntoContext(source, context.FullName);
        }

        var architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64";
        foreach (var run in Image.Build.Where(i => i.Instruction == "RUN" && i.Arguments.StartsWith("dotnet ", StringComparison.Ordinal)))
        {
            var words = run.Arguments.Replace("$PUBLISH_ARGS", Image.Arg("PUBLISH_ARGS"), StringComparison.Ordinal)
                .Replace("$TARGETARCH", architecture, StringComparison.Ordinal)
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(word => word switch { "/app" => app, "publish" => "build", _ => word })
                .ToList();
            // No build servers left running after the test.
            var result = await ExternalTool.RunAsync(
                ExternalTool.Find("dotnet") ?? Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet",
                [.. words.Skip(1), "--disable-build-servers"],
                context.FullName,
                timeout: TimeSpan.FromMinutes(10));
            Assert.True(result.ExitCode == 0, $"{run.Arguments}: {result}");
        }

        Assert.True(File.Exists(Path.Combine(app, "QuayAdmission.dll")));
        Assert.True(File.Exists(Path.Combine(app, "appsettings.json")));
    }

    private static string RunLine(string prefix) =>
        Image.Build.Where(i => i.Instruction == "RUN" && i.Arguments.StartsWith(prefix, StringComparison.Ordinal)).Select(i => i.Arguments).Single();

    private static string PublishCommand() =>
        RunLine("dotnet publish").Replace("$PUBLISH_ARGS", Image.Arg("PUBLISH_ARGS"), StringComparison.Ordinal);

    // COPY a b c dest: the sources, skipping --from copies; our destinations mirror the sources.
    private static string[] CopySources(string arguments)
    {
        var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words[0].StartsWith("--", StringComparison.Ordinal) ? [] : words[..^1];
    }

    private static void CopyIntoContext(string source, string context)
    {
        var from = Path.Combine(RepoPaths.Root, source);
        if (File.Exists(from))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(context, source))!);
            File.Copy(from, Path.Combine(context, source), overwrite: true);
            return;
        }

        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(RepoPaths.Root, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Contains("bin") || parts.Contains("obj"))
            {
                continue; // .dockerignore
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(context, relative))!);
            File.Copy(file, Path.Combine(context, relative), overwrite: true);
        }
    }
}
