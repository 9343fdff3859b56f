using FuseDream.Api.Apis;
using FuseDream.Api.Hosting;
using Serilog;

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults();
    builder.AddGenerationServices();
    builder.AddApiAccess();
    builder.AddJobDashboard();

    var app = builder.Build();
    app.UseServiceDefaults();
    app.UseWebPage(); // the page at /, its scripts and styles: static, before the API's key policies
    app.UseJobDashboard(); // its own branch, before the API's key policies
    app.UseApiAccess();
    app.MapHealthApi();
    app.MapGenerationsApi();
    app.MapModelsApi();
    app.MapOptionsApi();
    app.MapKeysApi();
    app.Run();
    return 0;
}
catch (Exception ex) when (ex is not HostAbortedException)
{
    StartupLog.Fatal(ex);
    return 1;
}
finally
{
    Log.CloseAndFlush();
}

/// <summary>Entry point; public so integration tests can host it with <c>WebApplicationFactory</c>.</summary>
public partial class Program;
