using System.CommandLine;
using System.Globalization;
using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Generation;
using FuseDream.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench precision</c>: what bf16 changes, in numbers that do not depend on the machine's load.
/// (1) Whole runs on the given models (default: the test fixtures' tiny CLIP and BigGAN-512), one
/// per seed, in fp32 and in bf16: the final AugCLIP of each, their difference, and the spread of
/// the fp32 scores across seeds to compare it with. (2) With <c>--full</c>, one forward pass of
/// full-size BigGAN (random weights) in both precisions: the PSNR of the bf16 image against the
/// fp32 one.
/// </summary>
public static class PrecisionBenchmark
{
    public static Command Create()
    {
        var clip = new Option<string?>("--clip") { Description = "CLIP checkpoint (default: the test fixtures' tiny CLIP)." };
        var bigGan = new Option<string?>("--biggan") { Description = "BigGAN checkpoint (default: the test fixtures' tiny BigGAN-512)." };
        var prompt = new Option<string>("--prompt") { Description = "Prompt.", DefaultValueFactory = _ => QualityBenchmark.DefaultPrompt };
        var seeds = new Option<int>("--seeds") { Description = "Seeds 1 … N.", DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { Description = "Optimisation steps per run.", DefaultValueFactory = _ => 30 };
        var full = new Option<int[]>("--full") { Description = "Also compare one forward pass of full-size BigGAN (random weights) at these resolutions (256, 512).", AllowMultipleArgumentsPerToken = true };
        var batch = new Option<int>("--batch") { Description = "Images in the full-size forward pass.", DefaultValueFactory = _ => 4 };
        var runtime = new RuntimeOptions(defaultDevice: "cpu");
        var command = new Command("precision", "What bf16 changes: final AugCLIP against fp32 over several seeds (with the seed-to-seed spread), and the PSNR of a full-size BigGAN image.")
        {
            clip, bigGan, prompt, seeds, steps, full, batch,
        };
        runtime.AddTo(command);
        command.SetAction(async (ParseResult parse, CancellationToken ct) =>
        {
            try
            {
                var device = runtime.ParseDevice(parse);
                runtime.ApplyThreads(parse);
                var seedCount = parse.GetValue(seeds);
                if (seedCount < 2) throw new ArgumentException($"--seeds must be at least 2, for a seed-to-seed spread (got {seedCount})");
                var stepCount = parse.GetValue(steps);
                if (stepCount < 1) throw new ArgumentException($"--steps must be at least 1 (got {stepCount})");
                var images = parse.GetValue(batch);
                if (images < 1) throw new ArgumentException($"--batch must be at least 1 (got {images})");
                var resolutions = parse.GetValue(full) ?? [];
                if (resolutions.FirstOrDefault(r => r is not (256 or 512)) is var bad and not 0)
                    throw new ArgumentException($"--full: resolution {bad} is not one of 256, 512");
                var clipPath = QualityBenchmark.RequireFile(parse.GetValue(clip) ?? QualityBenchmark.Fixture("clip", "clip_tiny_jit.pt"), "--clip");
                var bigGanPath = QualityBenchmark.RequireFile(parse.GetValue(bigGan) ?? QualityBenchmark.Fixture("biggan", "G512_tiny.pth"), "--biggan");

                Console.WriteLine($"Device: {device}   CPU threads: {get_num_threads()}");
                var options = RunOptions(stepCount);
                Console.WriteLine($"Runs: {Path.GetFileName(bigGanPath)} + {Path.GetFileName(clipPath)}, \"{parse.GetValue(prompt)}\", basis {options.BasisIterations}×{options.SamplesPerIteration} → top {options.TopK}, " +
                                  $"{options.Steps} steps × {options.Augmentations} augmentations, final AugCLIP over {options.FinalAugmentations}");
                var scores = new Dictionary<Precision, List<double>> { [Precision.Fp32] = [], [Precision.Bf16] = [] };
                foreach (var precision in scores.Keys)
                {
                    using var clipModel = ClipCheckpoint.Load(clipPath, device);
                    using var generator = BigGanCheckpoint.Load(bigGanPath, null, device);
                    using var pipeline = new FuseDreamPipeline(clipModel, [generator], device, precision: precision);
                    var run = options with { Model = FuseDreamPipeline.ModelId(generator) };
                    for (var seed = 1; seed <= seedCount; seed++)
                    {
                        ct.ThrowIfCancellationRequested();
                        var clock = System.Diagnostics.Stopwatch.StartNew();
                        var result = await pipeline.RunAsync(new GenerationRequest(parse.GetValue(prompt)!, seed, run), null, null, ct);
                        scores[precision].Add(result.AugClipScore);
                        Console.Error.WriteLine($"{ModelPrecision.Name(precision)} seed {seed}: AugCLIP {Format(result.AugClipScore, "0.0000")} ({Format(clock.Elapsed.TotalSeconds, "0.0")} s)");
                    }
                }
                Console.WriteLine(Report(scores[Precision.Fp32], scores[Precision.Bf16]));

                foreach (var resolution in resolutions)
                    Console.WriteLine($"BigGAN-{resolution} (random weights, G_ch 96), one forward pass of {images} images: " +
                                      $"PSNR of bf16 against fp32 {Format(ForwardPsnr(resolution, images, device), "0.0")} dB (images in [0, 1])");
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException or FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>A short run with every random part of the algorithm: basis search, Adam steps with noise and augmentations, a final measurement.</summary>
    public static GenerationOptions RunOptions(int steps) => new()
    {
        BasisIterations = 5,
        SamplesPerIteration = 4,
        TopK = 3,
        Steps = steps,
        Augmentations = 8,
        ScoreEvery = 0,
        FinalAugmentations = 64,
    };

    /// <summary>The per-seed table and the summary: mean and largest |bf16 − fp32| against the standard deviation of fp32 across seeds.</summary>
    public static string Report(IReadOnlyList<double> fp32, IReadOnlyList<double> bf16)
    {
        var lines = new List<string> { "| seed | fp32 AugCLIP | bf16 AugCLIP | bf16 − fp32 |", "|---:|---:|---:|---:|" };
        for (var i = 0; i < fp32.Count; i++)
            lines.Add($"| {i + 1} | {Format(fp32[i], "0.0000")} | {Format(bf16[i], "0.0000")} | {Format(bf16[i] - fp32[i], "+0.0000;-0.0000")} |");
        var differences = fp32.Zip(bf16, (a, b) => Math.Abs(b - a)).ToArray();
        var mean = fp32.Average();
        var spread = Math.Sqrt(fp32.Sum(s => (s - mean) * (s - mean)) / (fp32.Count - 1));
        lines.Add($"mean |bf16 − fp32| {Format(differences.Average(), "0.0000")}, largest {Format(differences.Max(), "0.0000")}; " +
                  $"seed-to-seed standard deviation (fp32) {Format(spread, "0.0000")}; mean bf16 − fp32 {Format(bf16.Average() - mean, "+0.0000;-0.0000")}");
        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>PSNR (dB, images mapped to [0, 1]) of a bf16 BigGAN forward pass against the fp32 one, same weights and inputs.</summary>
    public static double ForwardPsnr(int resolution, int batch, Device device)
    {
        using var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(resolution), seed: 1);
        generator.to(device);
        generator.eval();
        foreach (var parameter in generator.parameters()) parameter.requires_grad = false;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var z = randn([batch, generator.DimZ], generator: new Generator(2)).clamp(-2, 2).to(device);
        var y = generator.ClassEmbedding(randint(0, generator.NumClasses, [batch], generator: new Generator(3)));
        var exact = generator.Generate(z, y);
        ModelPrecision.ApplyTo(generator, Precision.Bf16);
        var reduced = generator.Generate(z, y);
        return Psnr(exact, reduced);
    }

    /// <summary>PSNR of two [-1, 1] image batches, read as [0, 1] images (peak 1).</summary>
    public static double Psnr(Tensor reference, Tensor other)
    {
        using var scope = NewDisposeScope();
        var mse = ((reference - other) / 2).square().mean().to(ScalarType.Float64).cpu().item<double>();
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(1 / mse);
    }

    private static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
