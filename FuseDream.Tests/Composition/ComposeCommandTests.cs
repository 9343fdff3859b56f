using FuseDream.Composition;
using FuseDream.Generation;
using FuseDream.Tests.Support;

namespace FuseDream.Tests.Composition;

/// <summary><c>FuseDream.Worker generate … --component …</c> run as a process, on the fixtures' tiny models.</summary>
public sealed class ComposeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fusedream-compose-").FullName;
    private static string Clip => Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt");
    private static string BigGan => Path.Combine(FixtureSets.Root, "biggan", "G512_tiny.pth");

    private static readonly string[] TinyOptions =
    [
        "--preset", "fast", "--basis-iterations", "1", "--samples-per-iteration", "2", "--top-k", "1",
        "--steps", "2", "--augmentations", "2", "--final-augmentations", "2", "--score-every", "1",
        "--fusion-steps", "2", "--inner-steps", "1", "--warmup-steps", "1", "--fusion-augmentations", "2", "--fusion-score-every", "1",
        "--device", "cpu", "--basis-batch", "2",
    ];

    [Fact]
    public async Task Generate_WithComponents_WritesTheImageComponentsCompositeAndTrace()
    {
        var png = Path.Combine(_dir, "moon.png");
        var run = await Worker(["generate", "a dog on the moon", "--component", "the surface of the moon", "--component", "a dog@0.3,0.35,0.75,0.95,0.1",
            "--clip", Clip, "--biggan", BigGan, "--out", png, "--seed", "31", "--precision", "fp32", .. TinyOptions]);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.StdErr}");
        Assert.Contains("AugCLIP score: ", run.StdOut);
        Assert.Contains("fusion", run.StdErr);
        Assert.Contains("optimising 2/2", run.StdErr);
        // The header ends as a single-prompt run's does, naming the threads and the precision.
        Assert.Matches(@"Fusion: 2 steps, K = 1   Threads: \d+   Precision: fp32 \(set explicitly\)   Basis batch: \d+ \(", run.StdErr.Replace("\r", ""));
        Assert.Matches(@"Time \(s\): component 1 \d+\.\d \+ \d+\.\d, component 2 .*; fusion: warm-up .*hypergradient \d+\.\d; .*total \d+\.\d", run.StdErr);

        var provenance = ProvenancePng.Read(await File.ReadAllBytesAsync(png)).Provenance!;
        Assert.Equal("a dog on the moon", provenance.Prompt);
        Assert.Equal(31, provenance.Seed);
        Assert.Equal([new SceneComponent("the surface of the moon"), new SceneComponent("a dog", new SceneBox(0.3, 0.35, 0.75, 0.95), 0.1)], provenance.Components);
        Assert.Equal(2, provenance.Composition!.FusionSteps);
        Assert.Equal(1, provenance.Composition.InnerSteps);

        var trace = CompositionTrace.FromJson(await File.ReadAllTextAsync(Path.Combine(_dir, "moon.trace.json")));
        Assert.Equal([1, 2], trace.Fusion.Select(p => p.Step));
        Assert.Equal(provenance.AugClipScore, trace.FinalAugClip);
        foreach (var name in new[] { "moon.composite.png", "moon.component-1.png", "moon.component-2.png", "moon.trace.png" })
            Assert.True(new FileInfo(Path.Combine(_dir, name)).Length > 0, $"{name} missing");
        Assert.Equal(512, ProvenancePng.Read(await File.ReadAllBytesAsync(Path.Combine(_dir, "moon.component-2.png"))).Width);
    }

    [Fact]
    public async Task Generate_WithAComponentsFile_ChecksTheScene_NamingTheField()
    {
        var file = Path.Combine(_dir, "scene.json");
        await File.WriteAllTextAsync(file, """{"components": [{"prompt": "a snowy forest"}, {"prompt": "a red bus", "box": [0.5, 0.2, 0.4, 0.9]}]}""");
        var run = await Worker(["generate", "a red bus in a snowy forest", "--components", file, "--clip", Clip, "--biggan", BigGan, "--out", _dir, .. TinyOptions]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("components[1].box: must have a positive area", run.StdErr);

        var single = await Worker(["generate", "a red bus", "--component", "only one", "--clip", Clip, "--biggan", BigGan, "--out", _dir, .. TinyOptions]);
        Assert.Equal(2, single.ExitCode);
        Assert.Contains("components: a scene has 2 to 4 components", single.StdErr);

        var badBox = await Worker(["generate", "a red bus", "--component", "forest", "--component", "bus@0.1,0.2", "--clip", Clip, "--biggan", BigGan, "--out", _dir, .. TinyOptions]);
        Assert.Equal(2, badBox.ExitCode);
        Assert.Contains("x0,y0,x1,y1", badBox.StdErr);
    }

    private static Task<(int ExitCode, string StdOut, string StdErr)> Worker(string[] args) =>
        WorkerProcess.RunAsync(args, TimeSpan.FromMinutes(10));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
