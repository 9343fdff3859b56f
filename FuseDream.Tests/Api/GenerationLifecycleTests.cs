using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using FuseDream.Queue;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Api;

public class GenerationLifecycleTests(GenerationLifecycleTests.Factory factory) : IClassFixture<GenerationLifecycleTests.Factory>
{
    public sealed class Factory : ServiceFactory;

    [Fact]
    public async Task Submit_RunsToSucceeded_WithDownloadableImageTraceAndPreviews()
    {
        using var client = factory.CreateClient();
        var created = await client.PostAsync(GenerationClient.Quick("a lifecycle prompt", steps: 6, previewEvery: 3, seed: 1234));
        Assert.Equal("queued", created.Status());
        var id = created.Id();

        var done = await client.WaitAsync(id);
        Assert.Equal("succeeded", done.Status());
        Assert.Equal(1234, done.GetProperty("seed").GetInt64());
        var result = done.GetProperty("result");
        Assert.Equal(0.25 + 34 * 1e-4, result.GetProperty("augClipScore").GetDouble(), 9);
        Assert.Equal($"/v1/generations/{id}/image", result.GetProperty("imageUrl").GetString());
        Assert.Equal([3, 6], done.GetProperty("previews").EnumerateArray().Select(p => p.GetProperty("step").GetInt32()));
        Assert.True(done.GetProperty("startedAt").GetDateTimeOffset() <= done.GetProperty("finishedAt").GetDateTimeOffset());

        using var image = await client.GetAsync($"/v1/generations/{id}/image");
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal("image/png", image.Content.Headers.ContentType?.MediaType);
        var bytes = await image.Content.ReadAsByteArrayAsync();
        Assert.Equal(8, Image.Identify(bytes).Width);
        var etag = image.Headers.ETag;
        Assert.NotNull(etag);
        Assert.Equal($"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))}\"", etag.Tag);
        Assert.Contains("immutable", image.Headers.CacheControl?.ToString());

        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/image");
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        var trace = await client.GetJsonAsync($"/v1/generations/{id}/trace");
        var points = trace.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal([1, 2, 3, 4, 5, 6], points.Select(p => p.GetProperty("step").GetInt32()));
        Assert.Equal(0.202, points[1].GetProperty("augClip").GetDouble(), 9);

        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, $"/v1/generations/{id}/trace");
        csvRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var csv = await client.SendAsync(csvRequest);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal("step,loss,aug_clip", lines[0]);
        Assert.Equal(7, lines.Length);
        Assert.StartsWith("2,", lines[2]);

        using var preview = await client.GetAsync($"/v1/generations/{id}/previews/3");
        Assert.Equal(HttpStatusCode.OK, preview.StatusCode);
        Assert.Equal("image/png", preview.Content.Headers.ContentType?.MediaType);
        using var missingPreview = await client.GetAsync($"/v1/generations/{id}/previews/4");
        Assert.Equal(HttpStatusCode.NotFound, missingPreview.StatusCode);
        Assert.Equal("application/problem+json", missingPreview.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task IdempotencyKey_SameBodyReturnsSameGeneration_DifferentBodyIs422()
    {
        using var client = factory.CreateClient();
        var body = GenerationClient.Quick("an idempotent prompt");
        var first = await client.PostAsync(body, "key-1");
        var second = await client.PostAsync(body, "key-1");
        Assert.Equal(first.Id(), second.Id());
        Assert.Equal(1L, await factory.Probe.GenerationsWithPromptAsync("an idempotent prompt"));
        Assert.Equal(1L, await factory.Probe.JobsOfAsync(first.Id()));

        var conflict = await client.PostAsync(GenerationClient.Quick("an idempotent prompt", steps: 7), "key-1", HttpStatusCode.UnprocessableEntity);
        Assert.Contains("Idempotency-Key", conflict.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Equal(1L, await factory.Probe.GenerationsWithPromptAsync("an idempotent prompt"));
        await client.WaitAsync(first.Id());
    }

    [Fact]
    public async Task IdempotencyKey_ConcurrentRepeats_CreateOneGeneration()
    {
        using var client = factory.CreateClient();
        var body = GenerationClient.Quick("raced idempotent prompt");
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => client.PostAsync(body, "raced-key")));
        Assert.Single(responses.Select(r => r.Id()).Distinct());
        Assert.Equal(1L, await factory.Probe.GenerationsWithPromptAsync("raced idempotent prompt"));
        await client.WaitAsync(responses[0].Id());
        Assert.Equal(1, factory.Pipelines.RunsOf("raced idempotent prompt"));
    }

    [Fact]
    public async Task UnknownId_Is404ProblemDetails()
    {
        using var client = factory.CreateClient();
        foreach (var url in new[] { $"/v1/generations/{Guid.NewGuid()}", $"/v1/generations/{Guid.NewGuid()}/image", $"/v1/generations/{Guid.NewGuid()}/trace" })
        {
            using var response = await client.GetAsync(url);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        using var cancel = await client.PostAsync($"/v1/generations/{Guid.NewGuid()}/cancel", null);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
    }

    [Fact]
    public async Task Cancel_FinishedGeneration_Is409()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("finish then cancel"))).Id();
        Assert.Equal("succeeded", (await client.WaitAsync(id)).Status());
        using var response = await client.PostAsync($"/v1/generations/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task FailingRequest_IsFailedWithItsReason_AndNotRetried()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("please [fail]"))).Id();
        var done = await client.WaitAsync(id);
        Assert.Equal("failed", done.Status());
        // The client reads a category and the id the log lines carry, not the exception's text.
        Assert.Equal($"The worker could not run the models. The details are in the worker's log under generation {id}.", done.GetProperty("error").GetString());
        // A job that ended Succeeded is never run again: once Hangfire records that, the count is final.
        var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(id))!, Patience, "Succeeded");
        Assert.Equal(1, history.Count(s => s == "Processing"));
        Assert.DoesNotContain("Scheduled", history);
        Assert.Equal(1, factory.Pipelines.RunsOf("please [fail]"));
        Assert.Equal(1, await factory.Probe.AttemptsAsync(id));
    }

    [Fact]
    public async Task FailureWithPathsAndHostsInItsException_ShowsClientsACategoryAndTheId_NotTheText()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("the driver falls over [crash]"))).Id();
        var done = await client.WaitAsync(id);
        Assert.Equal("failed", done.Status());
        var error = done.GetProperty("error").GetString()!;
        Assert.StartsWith("The worker could not run the models.", error);
        Assert.Contains(id.ToString(), error);
        // Nothing of the exception, in the field or anywhere in the answers about it.
        var everything = done.GetRawText() + (await client.GetJsonAsync("/v1/generations")).GetRawText();
        foreach (var secret in new[] { "CUDA", "/srv/fusedream", "clip-vit-b-32.pt", "gpu-node-7", "db.internal", "fusedream_admin", "test-GenerationLifecycleTests" })
            Assert.DoesNotContain(secret, everything);
        Assert.Equal(1, factory.Pipelines.RunsOf("the driver falls over [crash]"));
    }

    [Fact]
    public async Task TransientFailure_IsRetried_AndSucceedsOnce()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("flaky [transient]"))).Id();
        var done = await client.WaitAsync(id, g => g.Status() is "succeeded" or "failed" or "canceled", TimeSpan.FromSeconds(20));
        Assert.Equal("succeeded", done.Status());
        var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(id))!, Patience, "Succeeded");
        Assert.Equal(2, history.Count(s => s == "Processing"));
        Assert.Equal(2, factory.Pipelines.RunsOf("flaky [transient]"));
        Assert.Equal(2, await factory.Probe.AttemptsAsync(id));
        Assert.Equal([1, 2, 3, 4, 5, 6], await factory.Probe.TraceStepsAsync(id));
    }

    [Fact]
    public async Task PersistentTransientFailure_GivesUpAfterTheBoundedRetries()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("hopeless [always-transient]"))).Id();
        var done = await client.WaitAsync(id, g => g.Status() is "succeeded" or "failed" or "canceled", TimeSpan.FromSeconds(20));
        Assert.Equal("failed", done.Status());
        Assert.Contains("Gave up after 3 attempts", done.GetProperty("error").GetString());
        Assert.DoesNotContain("Simulated disk hiccup", done.GetProperty("error").GetString());
        // The last attempt records the failure and ends the job (Succeeded in Hangfire's terms): no fourth run can follow.
        var history = await HangfireJobs.WaitForStateAsync(factory.Jobs, (await factory.Probe.JobIdAsync(id))!, Patience, "Succeeded");
        Assert.Equal(3, history.Count(s => s == "Processing")); // 1 + Queue:MaxRetries (2)
        Assert.Equal(3, factory.Pipelines.RunsOf("hopeless [always-transient]"));
        Assert.Equal(3, await factory.Probe.AttemptsAsync(id));
    }

    [Fact]
    public async Task JobReExecutedAfterSuccess_LeavesExactlyOneResult()
    {
        using var client = factory.CreateClient();
        var id = (await client.PostAsync(GenerationClient.Quick("run me twice"))).Id();
        var first = await client.WaitAsync(id);
        Assert.Equal("succeeded", first.Status());
        var traceSteps = await factory.Probe.TraceStepsAsync(id);
        Assert.Equal([1, 2, 3, 4, 5, 6], traceSteps);
        var imageKey = await factory.Probe.ImageKeyAsync(id);
        var jobId = (await factory.Probe.JobIdAsync(id))!;

        // Hangfire is at-least-once: deliver the same job again. Wait for the first delivery to
        // be recorded as succeeded: the row commits inside the job, a moment before Hangfire's
        // own state change, and a requeue in between would overwrite that state.
        var queue = factory.Services.GetRequiredService<GenerationQueue>();
        await HangfireJobs.WaitForHistoryAsync(queue.Storage, jobId, "Succeeded", 1, Patience);
        // Hangfire's own client, not the service's: the service never re-delivers a job itself.
        Assert.True(Hangfire.BackgroundJobClientExtensions.Requeue(new Hangfire.BackgroundJobClient(queue.Storage, queue.Filters), jobId));
        var history = await HangfireJobs.WaitForHistoryAsync(queue.Storage, jobId, "Succeeded", 2, Patience);
        Assert.Equal(2, history.Count(s => s == "Processing"));

        Assert.Equal(1, factory.Pipelines.RunsOf("run me twice"));
        Assert.Equal(1, await factory.Probe.AttemptsAsync(id));
        Assert.Equal(traceSteps, await factory.Probe.TraceStepsAsync(id));
        Assert.Equal(imageKey, await factory.Probe.ImageKeyAsync(id));
        var again = await client.GetJsonAsync($"/v1/generations/{id}");
        Assert.Equal("succeeded", again.Status());
        Assert.Equal(first.GetProperty("finishedAt").GetDateTimeOffset(), again.GetProperty("finishedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task List_IsNewestFirst_WithCursorPagingAndStatusFilter()
    {
        using var client = factory.CreateClient();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++) ids.Add((await client.PostAsync(GenerationClient.Quick($"list item {i}", steps: 1))).Id());
        foreach (var id in ids) await client.WaitAsync(id);

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await client.GetJsonAsync($"/v1/generations?limit=2&status=succeeded" + (cursor is null ? "" : $"&cursor={cursor}"));
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.True(items.Count <= 2);
            Assert.All(items, g => Assert.Equal("succeeded", g.Status()));
            seen.AddRange(items.Select(g => g.Id()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 100);
        var mine = seen.Where(ids.Contains).ToList();
        Assert.Equal(Enumerable.Reverse(ids), mine);
        Assert.Equal(seen.Count, seen.Distinct().Count());

        using var badStatus = await client.GetAsync("/v1/generations?status=done");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.Contains("\"status\"", await badStatus.Content.ReadAsStringAsync());
        using var badCursor = await client.GetAsync("/v1/generations?cursor=nonsense");
        Assert.Equal(HttpStatusCode.BadRequest, badCursor.StatusCode);
        using var badLimit = await client.GetAsync("/v1/generations?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
}
