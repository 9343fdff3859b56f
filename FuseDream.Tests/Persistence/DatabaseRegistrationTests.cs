using System.Diagnostics;
using FuseDream.Persistence;
using FuseDream.Tests.Foundation;
using FuseDream.Worker.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Tests.Persistence;

/// <summary>
/// Outside Development, a host without <c>ConnectionStrings:FuseDream</c> stops at start and
/// names the setting; only Development falls back to the database the bootstrap creates.
/// </summary>
public class DatabaseRegistrationTests
{
    private const string Expected = "ConnectionStrings:FuseDream (env ConnectionStrings__FuseDream) is required";

    [Fact]
    public async Task Api_InProduction_WithoutAConnectionString_ExitsAtStart_NamingTheSetting()
    {
        // The real process: its Program logs the start failure and exits 1. The setting is set
        // empty rather than left absent, so that one in the environment running the tests cannot mask the check.
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "FuseDream.Api.dll"), "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.Environment.Remove("DOTNET_ENVIRONMENT");
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["ConnectionStrings__FuseDream"] = "";
        psi.Environment["FUSEDREAM_LOG_FORMAT"] = "text";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the API started without a connection string in Production");
        }
        var output = await stdout + await stderr;
        Assert.Equal(1, process.ExitCode);
        Assert.Contains(Expected, output);
    }

    [Fact]
    public async Task Worker_InProduction_WithoutAConnectionString_FailsAtStart_NamingTheSetting()
    {
        using var host = WorkerHost.Build(["--environment=Production", "--ConnectionStrings:FuseDream="]);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        Assert.Contains(Expected, Describe(error));
    }

    [Fact]
    public void InDevelopment_WithoutAConnectionString_TheBootstrapDatabaseIsUsed()
    {
        using var host = WorkerHost.Build(["--environment=Development", "--ConnectionStrings:FuseDream="]);
        Assert.Equal(DatabaseOptions.DevelopmentDefault, host.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString);
    }

    [Fact]
    public async Task Api_RegistersTheDatabaseOnce()
    {
        var connectionString = await TestDatabase.CreateFreshAsync(nameof(DatabaseRegistrationTests));
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
            builder.UseSetting("ConnectionStrings:FuseDream", connectionString));
        Assert.Single(factory.Services.GetServices<NpgsqlDataSource>());
        Assert.Single(factory.Services.GetServices<IConfigureOptions<DatabaseOptions>>());
        Assert.Equal(connectionString, factory.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString);
    }

    private static string Describe(Exception error) => error is AggregateException aggregate
        ? string.Join("\n", aggregate.Flatten().InnerExceptions.Select(e => e.Message))
        : error.ToString();
}
