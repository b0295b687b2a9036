namespace QuayAdmission.Tests.Support;

/// <summary>
/// A test of the native executable named by <c>QUAY_ADMISSION_NATIVE_BIN</c> (<c>make test</c> publishes it
/// and sets the variable). A plain <c>dotnet test</c> on a developer's machine skips these; under
/// <c>CI=true</c> they always run, so a CI run without the native build fails instead of passing.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NativeFactAttribute : FactAttribute
{
    public const string Variable = "QUAY_ADMISSION_NATIVE_BIN";

    public NativeFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)) && !IsCi)
            Skip = $"{Variable} is not set: run `make test`, or `make publish-native` and set it to artifacts/native/quay-admission/QuayAdmission";
    }

    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The executable; fails the test when it is not there.</summary>
    public static string Executable()
    {
        var path = Environment.GetEnvironmentVariable(Variable);
        Assert.False(string.IsNullOrEmpty(path), $"{Variable} is not set (CI must run the native smoke suite: `make test` publishes the webhook and sets it)");
        Assert.True(File.Exists(path), $"{Variable}={path}: no such file (`make publish-native`)");
        return Path.GetFullPath(path);
    }
}
