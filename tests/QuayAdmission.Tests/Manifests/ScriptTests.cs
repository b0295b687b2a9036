using System.Text.RegularExpressions;

namespace QuayAdmission.Tests.Manifests;

public class ScriptTests
{
    [SkippableTheory]
    [InlineData("certs/generate.sh")]
    [InlineData("tests/e2e/run.sh")]
    [InlineData("scripts/native-deps.sh")]
    [InlineData("bench/provider.sh")]
    public async Task Scripts_are_executable_and_parse(string script)
    {
        var path = Path.Combine(RepoPaths.Root, script);
        if (!OperatingSystem.IsWindows())
        {
            Assert.True(File.GetUnixFileMode(path).HasFlag(UnixFileMode.UserExecute), $"{script} is not executable");
        }

        var bash = ExternalTool.Require("bash", $"{script} is executable, but not parsed");
        var result = await ExternalTool.RunAsync(bash, ["-n", path], RepoPaths.Root);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public void E2e_pins_the_versions_it_downloads()
    {
        var script = RepoPaths.Read("tests/e2e/run.sh");

        Assert.Matches(new Regex(@"CERT_MANAGER_VERSION:-v\d+\.\d+\.\d+\}"), script);
        Assert.Matches(new Regex(@"KIND_NODE_IMAGE:-kindest/node:v1\.(3[0-9])\.\d+\}"), script);
        Assert.Contains("releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml", script, StringComparison.Ordinal);
    }
}
