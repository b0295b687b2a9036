using QuayAdmission.Admission;
using QuayAdmission.Hosting;
using QuayAdmission.Observability;

// The slim builder: configuration from appsettings.json, the environment and the command line, and
// console logging, without the default builder's EventSource and Debug loggers, host filtering
// and configuration-driven HTTPS, none of which the webhook uses; it starts faster as a native
// executable (bench/notes.md). Our listeners configure TLS in code, which needs the HTTPS services.
var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseKestrelHttpsConfiguration();
builder.AddQuayAdmission();

var app = builder.Build();
app.MapAdmission();
app.MapHealth();
app.MapQuayMetrics();
app.Run();

public partial class Program;
