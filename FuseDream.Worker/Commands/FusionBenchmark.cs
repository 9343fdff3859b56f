using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Clip;
using FuseDream.Composition;
using FuseDream.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench fusion</c>: seconds per outer step of a composed generation's fusion (K unrolled
/// lower-level steps with second-order gradients, the upper objective, the outer update), for
/// each K asked, at full size with random weights (BigGAN-256/512 + CLIP ViT-B/32) or for given
/// model files. Stage 1 is not run: the components start from random latents, which costs the
/// same per step.
/// </summary>
public static class FusionBenchmark
{
    public static Command Create()
    {
        var clip = new Option<string?>("--clip") { Description = "CLIP checkpoint to measure (with --biggan)." };
        var bigGan = new Option<string?>("--biggan") { Description = "BigGAN checkpoint to measure with --clip." };
        var full = new Option<int[]>("--full") { Description = "Full-size random-weight BigGAN resolutions to measure (256, 512) with CLIP ViT-B/32.", AllowMultipleArgumentsPerToken = true };
        var inner = new Option<int[]>("--inner-steps") { Description = "K values to time.", DefaultValueFactory = _ => [1, 3], AllowMultipleArgumentsPerToken = true };
        var components = new Option<int>("--components") { Description = "Components in the scene (2–4).", DefaultValueFactory = _ => 2 };
        var augmentations = new Option<int>("--fusion-augmentations") { Description = "DiffAugment copies per AugCLIP term.", DefaultValueFactory = _ => new CompositionOptions().FusionAugmentations };
        var steps = new Option<int>("--steps") { Description = "Timed outer steps per K (after one warm-up step).", DefaultValueFactory = _ => 3 };
        var runtime = new RuntimeOptions();
        var command = new Command("fusion", "Time the composed generation's fusion: seconds per outer step for each K.") { clip, bigGan, full, inner, components, augmentations, steps };
        runtime.AddTo(command);
        command.SetAction((ParseResult parse, CancellationToken ct) =>
        {
            try
            {
                var deviceName = runtime.DeviceName(parse);
                var device = runtime.ParseDevice(parse);
                runtime.ApplyThreads(parse);
                var n = parse.GetValue(components);
                if (n is < CompositionOptions.MinComponents or > CompositionOptions.MaxComponents)
                    throw new ArgumentException($"--components must be between {CompositionOptions.MinComponents} and {CompositionOptions.MaxComponents} (got {n})");
                var timed = parse.GetValue(steps);
                if (timed < 1) throw new ArgumentException($"--steps must be at least 1 (got {timed})");
                var ks = parse.GetValue(inner) ?? [];
                var resolutions = parse.GetValue(full) ?? [];
                var clipPath = parse.GetValue(clip);
                var bigGanPath = parse.GetValue(bigGan);
                if (resolutions.Length == 0 && (clipPath is null || bigGanPath is null))
                    throw new ArgumentException("nothing to measure: give --full 256 (and/or 512), or --clip <file> --biggan <file>");
                Console.WriteLine($"Device: {deviceName}   CPU threads: {get_num_threads()}   Components: {n}   Augmentations: {parse.GetValue(augmentations)}");
                Console.WriteLine($"{"Models",-42} {"K",3} {"s / outer step",15}");
                void Run(string name, ClipModel clipModel, BigGanGenerator generator)
                {
                    foreach (var model in new nn.Module[] { clipModel, generator })
                    {
                        model.eval();
                        foreach (var p in model.parameters()) p.requires_grad = false;
                    }
                    foreach (var k in ks)
                    {
                        var options = new CompositionOptions { InnerSteps = k, FusionAugmentations = parse.GetValue(augmentations) };
                        var seconds = Measure(clipModel, generator, device, n, options, timed, ct);
                        Console.WriteLine($"{name,-42} {k,3} {seconds.ToString("0.000", CultureInfo.InvariantCulture),15}");
                    }
                }
                if (clipPath is not null && bigGanPath is not null)
                {
                    using var clipModel = ClipCheckpoint.Load(clipPath, device);
                    using var generator = BigGanCheckpoint.Load(bigGanPath, null, device);
                    Run($"{Path.GetFileName(bigGanPath)} + {Path.GetFileName(clipPath)}", clipModel, generator);
                }
                if (resolutions.Length > 0)
                {
                    using var clipModel = ClipRandomInit.Create(ClipConfig.VitB32, new Generator(1), device);
                    foreach (var resolution in resolutions)
                    {
                        using var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(resolution), seed: 1);
                        generator.to(device);
                        Run($"BigGAN-{resolution} + ViT-B/32 (random weights)", clipModel, generator);
                    }
                }
                return Task.FromResult(0);
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return Task.FromResult(2);
            }
        });
        return command;
    }

    private static double Measure(ClipModel clip, BigGanGenerator generator, Device device, int n, CompositionOptions options, int timed, CancellationToken ct)
    {
        SceneComponent[] all =
        [
            new("the surface of the moon"), new("a dog", new SceneBox(0.3, 0.35, 0.75, 0.95)),
            new("a star", new SceneBox(0.6, 0.0, 1.0, 0.4)), new("a rocket", new SceneBox(0.0, 0.0, 0.3, 0.5)),
        ];
        var components = all.Take(n).ToList();
        var scorers = new List<AugClipScorer> { AugClipScorer.ForPrompt(clip, "a dog on the moon", device) };
        scorers.AddRange(components.Select(c => AugClipScorer.ForPrompt(clip, c.Prompt, device)));
        var latents = new List<Tensor[]>();
        using var random = new Generator(7);
        for (var i = 0; i < n; i++)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Tensor[] parts =
            [
                randn([5, generator.DimZ], generator: random).to(device), randn([5, generator.EmbeddingDim], generator: random).to(device),
                randn([5, generator.DimZ], generator: random).clamp(-2, 2).to(device),
                generator.ClassEmbedding(tensor(new long[] { 1, 2, 3, 4, 5 }, device: device)).detach(),
            ];
            latents.Add([.. parts.Select(t => t.MoveToOuterDisposeScope())]);
        }
        try
        {
            using var fusion = new SceneFusion(generator, clip, scorers[0], scorers.Skip(1).ToList(), components, latents, options);
            using var draws = new TorchRandomSource(1);
            fusion.Warmup(1, ct);
            fusion.Step(draws);
            Synchronize(device);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < timed; i++)
            {
                ct.ThrowIfCancellationRequested();
                fusion.Step(draws);
            }
            Synchronize(device);
            return clock.Elapsed.TotalSeconds / timed;
        }
        finally
        {
            foreach (var t in latents.SelectMany(l => l)) t.Dispose();
            foreach (var s in scorers) s.Dispose();
        }
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }
}
