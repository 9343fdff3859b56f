using System.Collections.Concurrent;
using FuseDream.Generation;
using FuseDream.Logging;
using FuseDream.Worker;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace FuseDream.Tests.Api;

public class JobLoggingTests(JobLoggingTests.Factory factory) : IClassFixture<JobLoggingTests.Factory>
{
    private const string PipelineLogCategory = "FuseDream.Tests.Api.JobLoggingTests.Pipeline";

    /// <summary>The service with its usual Serilog setup plus a sink that keeps every event.</summary>
    public sealed class Factory : ServiceFactory
    {
        public ConcurrentQueue<LogEvent> Events { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services =>
            {
                // Its own logger instance (not the static Log.Logger, which parallel test hosts share).
                services.AddSerilog(lc => LoggingSetup.Configure(lc, json: false).WriteTo.Sink(new Collector(Events)), preserveStaticLogger: true);
                services.AddSingleton<IGenerationPipelineFactory>(sp => new LoggingPipelineFactory(Pipelines, sp.GetRequiredService<ILoggerFactory>()));
            });
        }

        /// <summary>
        /// The test pipeline, plus a log line per run that does not name the generation itself:
        /// the id on it can only come from the job's log context, which is what the test is about.
        /// </summary>
        private sealed class LoggingPipelineFactory(TestPipelineFactory inner, ILoggerFactory loggers) : IGenerationPipelineFactory
        {
            public IReadOnlyList<string> Models => inner.Models;

            public void EnsureReady() => inner.EnsureReady();

            public IGenerationPipeline Create(int workerIndex) => new LoggingPipeline(inner.Create(workerIndex), loggers.CreateLogger(PipelineLogCategory));
        }

        private sealed class LoggingPipeline(IGenerationPipeline inner, Microsoft.Extensions.Logging.ILogger logger) : IGenerationPipeline
        {
            public IReadOnlyList<string> Models => inner.Models;

            public Task<GenerationResult> RunAsync(GenerationRequest request, IProgress<GenerationProgress>? progress,
                Func<GenerationPreview, CancellationToken, Task>? onPreview, CancellationToken cancellationToken)
            {
                logger.LogInformation("Pipeline running {Steps} steps", request.Options.Steps);
                return inner.RunAsync(request, progress, onPreview, cancellationToken);
            }
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

        // The sink is the class fixture's, shared with any sibling test: every job line must carry
        // a generation id, and this generation's lines (found by that id) tell its story.
        var jobLines = factory.Events
            .Where(e => e.Properties.TryGetValue("SourceContext", out var source) && source.ToString().Contains("FuseDream.Worker.GenerationJob"))
            .ToList();
        Assert.All(jobLines, e => Assert.True(e.Properties.ContainsKey("GenerationId"), $"no GenerationId on: {e.RenderMessage()}"));
        var mine = jobLines.Where(e => e.Properties["GenerationId"].ToString().Trim('"') == id.ToString()).ToList();
        Assert.Contains(mine, e => e.MessageTemplate.Text.Contains("started"));
        Assert.Contains(mine, e => e.MessageTemplate.Text.Contains("succeeded"));
        // A line logged inside the job by code that knows nothing of the generation carries its id too.
        var pipelineLines = factory.Events
            .Where(e => e.Properties.TryGetValue("SourceContext", out var source) && source.ToString().Trim('"') == PipelineLogCategory)
            .ToList();
        Assert.NotEmpty(pipelineLines);
        Assert.Contains(pipelineLines, e => e.Properties.TryGetValue("GenerationId", out var value) && value.ToString().Trim('"') == id.ToString());
        Assert.Contains(factory.Events, e => e.MessageTemplate.Text.StartsWith("HTTP {RequestMethod} {RequestPath}", StringComparison.Ordinal)
                                             && e.Properties["RequestPath"].ToString().Contains("/v1/generations"));
    }
}
