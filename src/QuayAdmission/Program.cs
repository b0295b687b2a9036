using QuayAdmission.Admission;
using QuayAdmission.Hosting;
using QuayAdmission.Observability;

var builder = WebApplication.CreateBuilder(args);
builder.AddQuayAdmission();

var app = builder.Build();
app.MapAdmission();
app.MapHealth();
app.MapQuayMetrics();
app.Run();

public partial class Program;
