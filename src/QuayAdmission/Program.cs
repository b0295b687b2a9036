using QuayAdmission.Admission;
using QuayAdmission.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddQuayAdmission();

var app = builder.Build();
app.MapAdmission();
app.MapHealth();
app.Run();

public partial class Program;
