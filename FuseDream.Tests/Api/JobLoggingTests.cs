using System.Collections.Concurrent;
using FuseDream.Logging;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace FuseDream.Tests.Api;

public class JobLoggingTests(JobLoggingTests.Factory factory) : IClassFixture<JobLoggingTests.Factory>
{
    /// <summary>The service with its usual Serilog setup plus a sink that keeps every event.</summary>
    public sealed class Factory : ServiceFactory
    {
        public ConcurrentQueue<LogEvent> Events { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
                // Its own logger instance (not the static Log.Logger, which parallel test hosts share).
                services.AddSerilog(lc => LoggingSetup.Configure(lc, json: false).WriteTo.Sink(new Collector(Events)), preserveStaticLogger: true));
        }

        private sealed class Collector(ConcurrentQueue<LogEvent> events) : ILogEventSink
        {
            public void Emit(LogEvent logEvent) => events.Enqueue(logEvent);
        }
    }

    [Fact]
    public async Task EveryLogLineOfAJob_CarriesTheGenerationId_AndRequestsAreLogged()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("logged prompt", steps: 3))).Id();
        Assert.Equal("succeeded", (await client.WaitAsync(id)).Status());

        var jobLines = factory.Events
            .Where(e => e.Properties.TryGetValue("SourceContext", out var source) && source.ToString().Contains("FuseDream.Worker.GenerationJob"))
            .ToList();
        Assert.Contains(jobLines, e => e.MessageTemplate.Text.Contains("started"));
        Assert.Contains(jobLines, e => e.MessageTemplate.Text.Contains("succeeded"));
        Assert.All(jobLines, e =>
        {
            Assert.True(e.Properties.TryGetValue("GenerationId", out var value), $"no GenerationId on: {e.RenderMessage()}");
            Assert.Equal(id.ToString(), value.ToString().Trim('"'));
        });
        Assert.Contains(factory.Events, e => e.MessageTemplate.Text.StartsWith("HTTP {RequestMethod} {RequestPath}", StringComparison.Ordinal)
                                             && e.Properties["RequestPath"].ToString().Contains("/v1/generations"));
    }
}
