namespace FuseDream.Tests.Api;

/// <summary>
/// The API commits a generation's row, then enqueues its job. A process that stops between
/// the two leaves a queued row with no job; the client's retry with the same Idempotency-Key
/// must enqueue it (once), or the generation would wait forever.
/// </summary>
public class InterruptedSubmitTests(InterruptedSubmitTests.Factory factory) : IClassFixture<InterruptedSubmitTests.Factory>
{
    /// <summary>No worker: jobs stay in the queue, where they can be counted.</summary>
    public sealed class Factory : ServiceFactory
    {
        protected override bool InProcessWorker => false;
    }

    [Fact]
    public async Task Replay_OfARowLeftWithoutAJob_EnqueuesItOnce()
    {
        using var client = factory.CreateClient();
        var body = GenerationClient.Quick("interrupted before enqueue");
        var id = (await client.PostAsync(body, idempotencyKey: "interrupted-1")).Id();
        Assert.Equal(1, await factory.Probe.JobsOfAsync(id));

        // What a crash between the commit and the enqueue leaves: the row, queued, with no job id.
        await factory.Probe.ForgetJobAsync(id);
        await factory.Probe.BackdateAsync(id, TimeSpan.FromMinutes(1));
        Assert.Equal(0, await factory.Probe.JobsOfAsync(id));

        var replayed = await client.PostAsync(body, idempotencyKey: "interrupted-1");
        Assert.Equal(id, replayed.Id());
        Assert.Equal(1, await factory.Probe.JobsOfAsync(id));
        var jobId = await factory.Probe.JobIdAsync(id);
        Assert.NotNull(jobId);
        Assert.True(await factory.Probe.JobExistsForAsync(jobId, id), $"the row names job {jobId}, which is not this generation's");

        // Further replays find the job and add none.
        await client.PostAsync(body, idempotencyKey: "interrupted-1");
        Assert.Equal(1, await factory.Probe.JobsOfAsync(id));
    }

    [Fact]
    public async Task Replay_WhileTheFirstRequestMayStillBeEnqueueing_AddsNoJob()
    {
        using var client = factory.CreateClient();
        var body = GenerationClient.Quick("first request still in flight");
        var id = (await client.PostAsync(body, idempotencyKey: "in-flight-1")).Id();
        // A fresh row without a job id: its own request may be between commit and enqueue.
        await factory.Probe.ClearJobIdAsync(id);

        await client.PostAsync(body, idempotencyKey: "in-flight-1");
        Assert.Equal(1, await factory.Probe.JobsOfAsync(id));
        Assert.Null(await factory.Probe.JobIdAsync(id));
    }
}
