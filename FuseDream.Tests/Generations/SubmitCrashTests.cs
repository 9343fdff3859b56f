using FuseDream.Generation;
using FuseDream.Generations;
using FuseDream.Persistence;
using FuseDream.Queue;
using FuseDream.Tests.Api;
using FuseDream.Tests.Foundation;
using FuseDream.Tests.Support;
using FuseDream.Worker;
using FuseDream.Worker.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FuseDream.Tests.Generations;

/// <summary>
/// The submit protocol when its process dies at a durability boundary. Each test performs the
/// protocol's steps itself, through the same lower-level calls <see cref="GenerationService"/>
/// makes, and stops after the step in question, leaving the rows and jobs exactly as a dying
/// process would; then the client's replay (and any job already in the queue) meets a real
/// worker host, and the generation must run once and leave one result.
/// </summary>
public class SubmitCrashTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Replay_AfterTheReplayingProcessDiedBeforeEnqueueing_EnqueuesTheRowOnce()
    {
        await using var rig = await Rig.StartAsync("_adopter");
        // A submit that stopped between its commit and its enqueue, long enough ago...
        var id = await rig.CommitAsync("k-adopter", "adopter died");
        await rig.Probe.BackdateAsync(id, TimeSpan.FromMinutes(2));
        // ...and a replay that adopted the row and died before enqueueing.
        Assert.NotNull(await rig.Submissions.TryAdoptUnqueuedAsync(id, GenerationService.UnqueuedAfter, CancellationToken.None));
        Assert.Equal(0, await rig.Probe.JobsOfAsync(id));
        Assert.StartsWith("(enqueueing", await rig.Probe.JobIdAsync(id));

        // While the adoption is fresh its process may still be enqueueing: a replay adds no job.
        Assert.IsType<SubmitOutcome.Accepted>(await rig.Service.SubmitAsync(Rig.Submission("k-adopter", "adopter died"), CancellationToken.None));
        Assert.Equal(0, await rig.Probe.JobsOfAsync(id));

        // Once the adoption is as old as an unqueued row must be, a replay takes it over and enqueues.
        await rig.Probe.AgeAdoptionAsync(id, TimeSpan.FromMinutes(1));
        var replayed = Assert.IsType<SubmitOutcome.Accepted>(await rig.Service.SubmitAsync(Rig.Submission("k-adopter", "adopter died"), CancellationToken.None));
        Assert.True(replayed.Replayed);
        Assert.Equal(1, await rig.Probe.JobsOfAsync(id));
        var jobId = await rig.Probe.JobIdAsync(id);
        Assert.True(long.TryParse(jobId, out _), $"job id '{jobId}'");
        Assert.True(await rig.Probe.JobExistsForAsync(jobId!, id));

        await rig.RunWorkerAsync(threads: 1, [jobId!]);
        await rig.AssertRanOnceAsync(id, "adopter died");
    }

    [Fact]
    public async Task Replay_AfterTheSubmitDiedBetweenEnqueueAndRecordingTheJob_RunsOnce()
    {
        await using var rig = await Rig.StartAsync("_enqueued");
        // A submit that committed and enqueued, then died before recording the job id.
        var id = await rig.CommitAsync("k-enqueued", "enqueued twice");
        var first = rig.Queue.Enqueue(id, Rig.RunOptions().Model);
        await rig.Probe.BackdateAsync(id, TimeSpan.FromMinutes(2));
        Assert.Null(await rig.Probe.JobIdAsync(id));
        Assert.Equal(1, await rig.Probe.JobsOfAsync(id));

        // The client's replay cannot see the first job: it enqueues a second one for the same generation.
        Assert.IsType<SubmitOutcome.Accepted>(await rig.Service.SubmitAsync(Rig.Submission("k-enqueued", "enqueued twice"), CancellationToken.None));
        Assert.Equal(2, await rig.Probe.JobsOfAsync(id));
        var second = (await rig.Probe.JobIdAsync(id))!;
        Assert.NotEqual(first, second);

        // Two worker threads take both jobs at once; one of them must not run the generation.
        await rig.RunWorkerAsync(threads: 2, [first, second]);
        await rig.AssertRanOnceAsync(id, "enqueued twice");
    }

    /// <summary>A fresh database with the service's pieces, and a worker host on demand.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly string _connectionString;
        private readonly string _blobs = Directory.CreateTempSubdirectory("fusedream-submit-crash-").FullName;
        private readonly NpgsqlDataSource _dataSource;
        private readonly TestPipelineFactory _pipelines = new() { StepDelay = TimeSpan.FromMilliseconds(20) };
        private IHost? _worker;

        private Rig(string connectionString)
        {
            _connectionString = connectionString;
            _dataSource = NpgsqlDataSource.Create(connectionString);
            Probe = new GenerationProbe(connectionString, _blobs);
            Queue = new GenerationQueue(Options.Create(new DatabaseOptions { ConnectionString = connectionString }), Options.Create(new QueueOptions()));
            Submissions = new GenerationSubmissions(_dataSource);
            // The rig starts its worker after the submits: they are queued for it.
            Service = OneMachineGenerationService.Create(_dataSource, Queue, Submissions);
        }

        public GenerationProbe Probe { get; }

        public GenerationQueue Queue { get; }

        public GenerationSubmissions Submissions { get; }

        public GenerationService Service { get; }

        public static async Task<Rig> StartAsync(string suffix)
        {
            var rig = new Rig(await TestDatabase.CreateFreshAsync(nameof(SubmitCrashTests) + suffix));
            await new DatabaseMigrator(rig._dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
            _ = rig.Queue.Storage; // installs Hangfire's schema
            return rig;
        }

        public static GenerationSubmission Submission(string key, string prompt) =>
            new(prompt, 7, "fast", RunOptions(), "hash-" + key, key);

        /// <summary>The submit's first step, the commit of its row, and nothing after it.</summary>
        public async Task<Guid> CommitAsync(string key, string prompt)
        {
            var (outcome, record) = await Submissions.CreateAsync(
                new NewGeneration(Guid.CreateVersion7(), key, "hash-" + key, prompt, 7, "fast", RunOptions()), CancellationToken.None);
            Assert.Equal(CreateOutcome.Created, outcome);
            return record.Id;
        }

        /// <summary>Starts a worker host and waits until Hangfire has ended every one of <paramref name="jobIds"/>.</summary>
        public async Task RunWorkerAsync(int threads, IReadOnlyList<string> jobIds)
        {
            _worker = WorkerHost.Build(
                [.. ServiceFactory.Settings(_connectionString, _blobs).Select(s => $"--{s.Key}={s.Value}"), "--Worker:Name=submit-crash", $"--Worker:Count={threads}"],
                services => services.AddSingleton<IGenerationPipelineFactory>(_pipelines));
            await _worker.StartAsync();
            // Succeeded is a state Hangfire never leaves by itself: after it, no job can run again.
            foreach (var jobId in jobIds)
                await HangfireJobs.WaitForStateAsync(Queue.Storage, jobId, Patience, "Succeeded");
        }

        public async Task AssertRanOnceAsync(Guid id, string prompt)
        {
            Assert.Equal("succeeded", await Probe.StatusAsync(id));
            Assert.Equal(1, _pipelines.RunsOf(prompt));
            Assert.Equal(1, await Probe.AttemptsAsync(id));
            Assert.Equal(Enumerable.Range(1, RunOptions().Steps), await Probe.TraceStepsAsync(id));
            Assert.Equal([(await Probe.ImageKeyAsync(id))!], Probe.BlobKeys());
        }

        public async ValueTask DisposeAsync()
        {
            if (_worker is not null)
            {
                await _worker.StopAsync();
                _worker.Dispose();
            }
            await _dataSource.DisposeAsync();
            try { Directory.Delete(_blobs, recursive: true); } catch (DirectoryNotFoundException) { }
        }

        public static GenerationOptions RunOptions() => GenerationPresets.Fast with { Steps = 40, ScoreEvery = 0 };
    }
}
