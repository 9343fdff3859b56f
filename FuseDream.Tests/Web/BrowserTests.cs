using System.Globalization;
using FuseDream.Api.Apis;
using FuseDream.Tests.Api;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Playwright;

namespace FuseDream.Tests.Web;

/// <summary>
/// The web page in a real browser (Debian's Chromium, headless, driven by Playwright) against
/// the real API and its in-process worker on the test pipeline: enter the key, submit, watch
/// progress, previews and the plot, get the final image and score, cancel another run, page the
/// gallery. Screenshots of each stage go to <c>TestResults/screenshots</c> in the test output
/// directory. Without a working Chromium the test fails, saying how to install it.
/// </summary>
public class BrowserTests(BrowserTests.Factory factory) : IClassFixture<BrowserTests.Factory>
{
    public const string ChromiumPath = "/usr/bin/chromium";

    public sealed class Factory : ServiceFactory
    {
        public Factory() => Pipelines.StepDelay = TimeSpan.FromMilliseconds(120);

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Events:PollInterval", "00:00:00.050");
        }
    }

    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    private static async Task<IBrowser> LaunchChromiumAsync(IPlaywright playwright)
    {
        if (!File.Exists(ChromiumPath))
            Assert.Fail($"The browser tests need Chromium at {ChromiumPath}: run scripts/bootstrap.sh (it installs Debian's chromium package).");
        try
        {
            return await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-dev-shm-usage"], // the tests run as root
            });
        }
        catch (PlaywrightException ex)
        {
            Assert.Fail($"Chromium ({ChromiumPath}) could not start, so the web page cannot be tested: {ex.Message}");
            throw;
        }
    }

    // The page's width, and the innermost elements that reach past the window's right edge.
    private const string WiderThanTheWindow = """
        () => {
          const w = window.innerWidth;
          const over = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > w + 1)
            .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > w + 1))
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '')
              + ' (' + Math.round(e.getBoundingClientRect().width) + 'px)');
          return document.documentElement.scrollWidth + 'px wide in a ' + w + 'px window; past the edge: ' + over.join(', ');
        }
        """;

    private static Task ShotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        return page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });
    }

    private static async Task<int> PlotPointsAsync(IPage page) =>
        int.Parse((await page.Locator("#plot-points").TextContentAsync())!.Split(' ')[0], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Page_MakesAnImage_ShowsItForming_CancelsAnother_AndPagesTheGallery()
    {
        // Enough finished generations for a second gallery page (8 a page).
        using var client = factory.CreateClient();
        var earlier = new List<Guid>();
        for (var i = 0; i < 8; i++)
            earlier.Add((await client.PostAsync(GenerationClient.Quick($"earlier {i}", steps: 1))).Id());
        foreach (var id in earlier) await client.WaitAsync(id);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchChromiumAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1200, Height = 900 } });
        var problems = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") problems.Add(message.Text); };
        page.PageError += (_, error) => problems.Add(error);
        page.SetDefaultTimeout(30_000);

        await page.GotoAsync(factory.Address.ToString());
        Assert.Equal("FuseDream", await page.TitleAsync());
        await page.GetByRole(AriaRole.Textbox, new() { Name = "Key (kept in this tab only)", Exact = true }).FillAsync(factory.AdminKey);
        await page.Keyboard.PressAsync("Enter"); // the key form submits from the keyboard
        await Assertions.Expect(page.Locator("#key-status")).ToHaveTextAsync("Key accepted.");
        await ShotAsync(page, "1-key");

        // Submit from the page, with advanced options whose limits came from the service.
        await page.GetByRole(AriaRole.Textbox, new() { Name = "Prompt", Exact = true }).FillAsync("a photo of a blue dog");
        await page.Locator("#preset").SelectOptionAsync("fast");
        await page.GetByRole(AriaRole.Spinbutton, new() { Name = "Seed (empty: random)", Exact = true }).FillAsync("42");
        await page.Locator("#advanced summary").ClickAsync();
        Assert.Equal("10000", await page.Locator("#opt-steps").GetAttributeAsync("max"));
        await page.Locator("#opt-steps").FillAsync("40");
        await page.Locator("#opt-scoreEvery").FillAsync("2");
        await page.Locator("#opt-previewEvery").FillAsync("5");
        await page.Locator("#submit").ClickAsync();

        await page.WaitForFunctionAsync("() => document.getElementById('run-progress').value > 0");
        var firstPercent = double.Parse((await page.Locator("#run-progress").GetAttributeAsync("value")) ?? "0", CultureInfo.InvariantCulture);
        await Assertions.Expect(page.Locator("#run-phase")).ToContainTextAsync("step");
        await ShotAsync(page, "2-progress");

        await Assertions.Expect(page.Locator("#previews img[src^='blob:']").First).ToBeVisibleAsync();
        await ShotAsync(page, "3-preview");

        await page.WaitForFunctionAsync("() => parseInt(document.getElementById('plot-points').textContent) >= 2");
        var pointsSeen = await PlotPointsAsync(page);
        await page.WaitForFunctionAsync($"() => parseInt(document.getElementById('plot-points').textContent) > {pointsSeen}");
        Assert.True(await page.Locator("#plot canvas").CountAsync() > 0, "uPlot drew no canvas");
        var laterPercent = double.Parse((await page.Locator("#run-progress").GetAttributeAsync("value")) ?? "0", CultureInfo.InvariantCulture);
        Assert.True(laterPercent >= firstPercent);
        await ShotAsync(page, "4-plot");

        await Assertions.Expect(page.Locator("#result")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#result-image")).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("^blob:"));
        var generations = await client.GetJsonAsync("/v1/generations?limit=1");
        var made = generations.GetProperty("items")[0];
        Assert.Equal("a photo of a blue dog", made.GetProperty("prompt").GetString());
        var score = made.GetProperty("result").GetProperty("augClipScore").GetDouble();
        await Assertions.Expect(page.Locator("#result-score")).ToHaveTextAsync(score.ToString("0.0000", CultureInfo.InvariantCulture));
        await Assertions.Expect(page.Locator("#result-seed")).ToHaveTextAsync("42");
        await Assertions.Expect(page.Locator("#run-progress")).ToHaveAttributeAsync("value", "100");
        await Assertions.Expect(page.Locator("#download-png")).ToHaveAttributeAsync("href", new System.Text.RegularExpressions.Regex("^blob:"));
        await Assertions.Expect(page.Locator("#download-csv")).ToHaveAttributeAsync("href", new System.Text.RegularExpressions.Regex("^blob:"));
        await Assertions.Expect(page.Locator("#download-plot")).ToHaveAttributeAsync("href", new System.Text.RegularExpressions.Regex("^blob:"));
        Assert.Equal(20, await PlotPointsAsync(page)); // the full trace: every second step of 40
        await ShotAsync(page, "5-final");

        // A second, long generation, canceled from the page.
        await page.Locator("#opt-steps").FillAsync("2000");
        await page.Locator("#submit").ClickAsync();
        await Assertions.Expect(page.Locator("#run-section")).ToHaveAttributeAsync("data-status", "running");
        await page.Locator("#cancel").ClickAsync();
        await Assertions.Expect(page.Locator("#run-section")).ToHaveAttributeAsync("data-status", "canceled");
        await Assertions.Expect(page.Locator("#run-phase")).ToHaveTextAsync("Canceled.");
        await ShotAsync(page, "6-canceled");

        // The gallery: 10 generations, 8 a page.
        await Assertions.Expect(page.Locator("#gallery > li")).ToHaveCountAsync(8);
        await Assertions.Expect(page.Locator("#gallery > li").First).ToContainTextAsync("canceled");
        await page.Locator("#gallery-older").ClickAsync();
        await Assertions.Expect(page.Locator("#gallery-page")).ToHaveTextAsync("Page 2");
        await Assertions.Expect(page.Locator("#gallery > li")).ToHaveCountAsync(2);
        await Assertions.Expect(page.Locator("#gallery-older")).ToBeDisabledAsync();
        await ShotAsync(page, "7-gallery-page-2");
        await page.Locator("#gallery-newer").ClickAsync();
        await Assertions.Expect(page.Locator("#gallery-page")).ToHaveTextAsync("Page 1");

        // Readable on a phone: nothing wider than the screen.
        await page.SetViewportSizeAsync(390, 844);
        // The plot follows the new width in a resize handler, so the layout is given time to settle.
        const string fits = "() => document.documentElement.scrollWidth <= window.innerWidth + 1";
        try { await page.WaitForFunctionAsync(fits, null, new() { Timeout = 10_000 }); }
        catch (TimeoutException) { }
        Assert.True(await page.EvaluateAsync<bool>(fits),
            "the page scrolls sideways on a phone-sized screen: " + await page.EvaluateAsync<string>(WiderThanTheWindow));
        await ShotAsync(page, "8-phone");

        // The URL scripts/run.sh prints carries the key in its fragment: a fresh tab starts ready, and the key leaves the address bar.
        var fresh = await browser.NewPageAsync();
        await fresh.GotoAsync($"{factory.Address}#key={factory.AdminKey}");
        await Assertions.Expect(fresh.Locator("#key-status")).ToHaveTextAsync("Key accepted.");
        Assert.DoesNotContain("key=", fresh.Url);
        Assert.Equal(factory.AdminKey, await fresh.Locator("#api-key").InputValueAsync());

        Assert.True(problems.Count == 0, "the page reported errors (CSP violations show here too):\n" + string.Join("\n", problems));
    }
}
