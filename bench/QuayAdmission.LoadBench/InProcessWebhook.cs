using QuayAdmission.Admission;
using QuayAdmission.Hosting;

namespace QuayAdmission.LoadBench;

/// <summary>
/// The webhook hosted in this program (`host` mode), for the one measurement a separate process
/// cannot give without changing src: bytes allocated per request. It is src's Program.cs line for
/// line (same builder, AddQuayAdmission, MapAdmission, MapHealth, configuration from appsettings.json
/// in the working directory and the environment), plus the allocation counter endpoint.
/// </summary>
internal static class InProcessWebhook
{
    public static async Task RunAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ApplicationName = "QuayAdmission" });
        builder.AddQuayAdmission();

        var app = builder.Build();
        app.MapAdmission();
        app.MapHealth();
        app.MapAllocationCounter();
        await app.RunAsync();
    }
}

internal static class AllocationCounter
{
    public const string Path = "/bench/allocated";

    /// <summary>Bytes this process has allocated so far, all threads (GC.GetTotalAllocatedBytes, precise).</summary>
    public static void MapAllocationCounter(this IEndpointRouteBuilder app) =>
        app.MapGet(Path, () => Results.Text(GC.GetTotalAllocatedBytes(precise: true).ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
