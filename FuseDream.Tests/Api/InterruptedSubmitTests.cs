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

    private Task<long> JobsOfAsync(Guid id) =>
        factory.ScalarAsync<long>($"select count(*) from hangfire.job where arguments::text like '%{id}%'");

    [Fact]
    public async Task Replay_OfARowLeftWithoutAJob_EnqueuesItOnce()
    {
        using var client = factory.CreateClient();
        var body = GenerationClient.Quick("interrupted before enqueue");
        var id = (await client.PostAsync(body, idempotencyKey: "interrupted-1")).Id();
        Assert.Equal(1, await JobsOfAsync(id));

        // What a crash between the commit and the enqueue leaves: the row, queued, with no job id.
        await factory.ExecuteAsync($"update fusedream.generations set job_id = null, created_at = now() - interval '1 minute' where id = '{id}'");
        await factory.ExecuteAsync($"delete from hangfire.job where arguments::text like '%{id}%'");
        Assert.Equal(0, await JobsOfAsync(id));

        var replayed = await client.PostAsync(body, idempotencyKey: "interrupted-1");
        Assert.Equal(id, replayed.Id());
        Assert.Equal(1, await JobsOfAsync(id));
        var jobId = await factory.ScalarAsync<string>($"select job_id from fusedream.generations where id = '{id}'");
        Assert.Equal(1, await factory.ScalarAsync<long>($"select count(*) from hangfire.job where id = {long.Parse(jobId, System.Globalization.CultureInfo.InvariantCulture)} and arguments::text like '%{id}%'"));

        // Further replays find the job and add none.
        await client.PostAsync(body, idempotencyKey: "interrupted-1");
        Assert.Equal(1, await JobsOfAsync(id));
    }

    [Fact]
    public async Task Replay_WhileTheFirstRequestMayStillBeEnqueueing_AddsNoJob()
    {
        using var client = factory.CreateClient();
        var body = GenerationClient.Quick("first request still in flight");
        var id = (await client.PostAsync(body, idempotencyKey: "in-flight-1")).Id();
        // A fresh row without a job id: its own request may be between commit and enqueue.
        await factory.ExecuteAsync($"update fusedream.generations set job_id = null where id = '{id}'");

        await client.PostAsync(body, idempotencyKey: "in-flight-1");
        Assert.Equal(1, await JobsOfAsync(id));
        Assert.Null(await factory.ScalarAsync<object>($"select job_id from fusedream.generations where id = '{id}'") as string);
    }
}
