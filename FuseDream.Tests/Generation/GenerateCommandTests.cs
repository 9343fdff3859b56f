using FuseDream.Checkpoints;
using FuseDream.Generation;
using FuseDream.Imaging;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Generation;

/// <summary><c>FuseDream.Worker generate</c> run as a process, on the fixtures' tiny models.</summary>
public sealed class GenerateCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fusedream-generate-").FullName;
    private static string Clip => Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt");
    private static string BigGan => Path.Combine(FixtureSets.Root, "biggan", "G512_tiny.pth");

    private static readonly string[] TinyOptions =
    [
        "--preset", "fast", "--basis-iterations", "1", "--samples-per-iteration", "2", "--top-k", "1",
        "--steps", "2", "--augmentations", "2", "--final-augmentations", "2", "--score-every", "1",
        "--device", "cpu", "--basis-batch", "2",
    ];

    [Fact]
    public async Task Generate_WritesPngTraceAndPreviews_AndPrintsTheScore()
    {
        var png = Path.Combine(_dir, "corgi.png");
        var run = await Worker(["generate", "a photo of a cute corgi", "--clip", Clip, "--biggan", BigGan, "--out", png, "--seed", "21", "--preview-every", "1", .. TinyOptions]);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.StdErr}");
        Assert.Contains("AugCLIP score: ", run.StdOut);
        Assert.Contains("optimising", run.StdErr);
        // The header says what --precision auto resolved to on this machine, and why.
        Assert.Contains($"Precision: {FuseDream.Models.ModelPrecision.ChooseDefault(TorchSharp.torch.CPU)}", run.StdErr);

        var provenance = ProvenancePng.Read(await File.ReadAllBytesAsync(png));
        Assert.Equal("a photo of a cute corgi", provenance.Provenance!.Prompt);
        Assert.Equal(21, provenance.Provenance.Seed);
        Assert.Equal(GenerationOptions.Models.BigGan512, provenance.Provenance.Options.Model);
        Assert.Equal(FileHash.Sha256(BigGan), provenance.Provenance.ModelSha256["biggan"]);
        Assert.Equal(FileHash.Sha256(Clip), provenance.Provenance.ModelSha256["clip"]);

        var trace = ScoreTrace.FromJson(await File.ReadAllTextAsync(Path.Combine(_dir, "corgi.trace.json")));
        Assert.Equal([1, 2], trace.Points.Select(p => p.Step));
        Assert.All(trace.Points, p => Assert.NotNull(p.AugClip));
        Assert.Equal(provenance.Provenance.AugClipScore, trace.FinalAugClip);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_dir, "corgi.previews"), "step-*.png").Length);

        // The plot beside the trace is the one the API serves at …/trace.png.
        var plot = await File.ReadAllBytesAsync(Path.Combine(_dir, "corgi.trace.png"));
        Assert.Equal(FuseDream.Imaging.TracePlot.Render(trace.Points, "a photo of a cute corgi"), plot);
        Assert.Contains("Trace plot: ", run.StdOut);
    }

    [Fact]
    public async Task MissingModelFile_IsNamed()
    {
        var missing = Path.Combine(_dir, "nope", "ViT-B-32.pt");
        var run = await Worker(["generate", "a cat", "--clip", missing, "--biggan", BigGan, "--out", _dir, .. TinyOptions]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("not found", run.StdErr);
        Assert.Contains(missing, run.StdErr);
    }

    [Fact]
    public async Task WrongModelFile_SaysWhatItIsNot()
    {
        var run = await Worker(["generate", "a cat", "--clip", Clip, "--biggan", Clip, "--out", _dir, .. TinyOptions]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("could not be loaded as a BigGAN generator", run.StdErr);
    }

    [Fact]
    public async Task InvalidOption_NamesTheField()
    {
        var options = TinyOptions.Chunk(2).Where(pair => pair[0] != "--steps").SelectMany(pair => pair);
        var run = await Worker(["generate", "a cat", "--clip", Clip, "--biggan", BigGan, "--out", _dir, .. options, "--steps", "-5"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("Steps: must be between 0 and 10000 (got -5)", run.StdErr);
    }

    [Theory]
    [InlineData("--init", "blur", "Init: unknown start 'blur'; allowed: paper, best")]
    [InlineData("--patience", "-1", "Patience: must be between 0 and 1000 (got -1)")]
    [InlineData("--min-improvement", "2", "MinImprovement: must be between 0 and 1 (got 2)")]
    public async Task InvalidQualityOption_NamesTheField_BeforeTheModelsLoad(string option, string value, string message)
    {
        var run = await Worker(["generate", "a cat", "--clip", Clip, "--biggan", BigGan, "--out", _dir, .. TinyOptions, option, value]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.StdErr);
        Assert.DoesNotContain("Loading", run.StdErr);
    }

    [Theory]
    [InlineData("--device", "tpu", "--device: Device: 'tpu' is not a device")]
    [InlineData("--basis-batch", "-1", "--basis-batch must be at least 1, or 0 to choose it from memory (got -1)")]
    [InlineData("--precision", "fp16", "--precision: Precision: 'fp16' is not a precision; use auto, fp32 or bf16")]
    public async Task BadRunSetting_IsRejectedBeforeTheModelsLoad(string option, string value, string message)
    {
        var options = TinyOptions.Chunk(2).Where(pair => pair[0] != option).SelectMany(pair => pair);
        var run = await Worker(["generate", "a cat", "--clip", Clip, "--biggan", BigGan, "--out", _dir, .. options, option, value]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(message, run.StdErr);
        Assert.DoesNotContain("Loading", run.StdErr);
        Assert.DoesNotContain("(Parameter", run.StdErr);
    }

    private static Task<(int ExitCode, string StdOut, string StdErr)> Worker(string[] args) =>
        WorkerProcess.RunAsync(args, TimeSpan.FromMinutes(10));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
