namespace QuayAdmission.Tests.Manifests;

/// <summary>Files of the repository, found by walking up from the test binaries to the solution.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Manifests => Path.Combine(Root, "manifests");

    public static string Certs => Path.Combine(Root, "certs");

    public static string Crds => Path.Combine(Root, "tests", "QuayAdmission.Tests", "Manifests", "crds");

    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "QuayAdmission.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No QuayAdmission.sln above {AppContext.BaseDirectory}");
    }
}
