using System.Net;
using System.Text.Json;

namespace FuseDream.Tests.Api;

public class PreviewPagingTests(PreviewPagingTests.Factory factory) : IClassFixture<PreviewPagingTests.Factory>
{
    public sealed class Factory : ServiceFactory;

    private static int[] Steps(JsonElement links) => [.. links.EnumerateArray().Select(p => p.GetProperty("step").GetInt32())];

    [Fact]
    public async Task PreviewEveryStep_StoresAtMostFifty_ResponsesLinkTheLatestTen_AndTheRestArePaged()
    {
        using var client = factory.CreateClient();
        // previewEvery 1 over 120 steps: widened to every 3rd step, 40 previews.
        var created = await client.PostAsync(GenerationClient.Quick("many previews", steps: 120, previewEvery: 1));
        var done = await client.WaitAsync(created.Id(), timeout: TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", done.Status());
        var id = created.Id();
        var all = Enumerable.Range(1, 40).Select(i => i * 3).ToArray();

        Assert.Equal(all, await factory.Probe.PreviewStepsAsync(id));
        Assert.Equal(40, done.GetProperty("previewCount").GetInt32());
        Assert.Equal(all[^10..], Steps(done.GetProperty("previews")));
        Assert.Equal($"/v1/generations/{id}/previews", done.GetProperty("links").GetProperty("previews").GetString());

        var listed = (await client.GetJsonAsync("/v1/generations?limit=100")).GetProperty("items").EnumerateArray().Single(g => g.Id() == id);
        Assert.Equal(40, listed.GetProperty("previewCount").GetInt32());
        Assert.Equal(all[^10..], Steps(listed.GetProperty("previews")));

        var paged = new List<int>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await client.GetJsonAsync($"/v1/generations/{id}/previews?limit=15" + (cursor is null ? "" : $"&cursor={cursor}"));
            Assert.Equal(40, page.GetProperty("total").GetInt32());
            paged.AddRange(Steps(page.GetProperty("items")));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null);
        Assert.Equal(all, paged);
        Assert.Equal(3, pages);

        using var png = await client.GetAsync($"/v1/generations/{id}/previews/60");
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        using var skipped = await client.GetAsync($"/v1/generations/{id}/previews/61");
        Assert.Equal(HttpStatusCode.NotFound, skipped.StatusCode);
        Assert.Equal("application/problem+json", skipped.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"/v1/generations/{id}/previews", await skipped.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PreviewPaging_RefusesABadCursorOrLimit_AndAnUnknownGeneration()
    {
        using var client = factory.CreateClient();
        var created = await client.PostAsync(GenerationClient.Quick("few previews", steps: 4, previewEvery: 2));
        using var badCursor = await client.GetAsync($"/v1/generations/{created.Id()}/previews?cursor=abc");
        Assert.Equal(HttpStatusCode.BadRequest, badCursor.StatusCode);
        Assert.Contains("cursor", await badCursor.Content.ReadAsStringAsync());
        using var badLimit = await client.GetAsync($"/v1/generations/{created.Id()}/previews?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
        using var unknown = await client.GetAsync($"/v1/generations/{Guid.NewGuid()}/previews");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
    }
}
