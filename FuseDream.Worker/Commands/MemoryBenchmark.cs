using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using FuseDream.BigGan;
using FuseDream.Clip;
using FuseDream.Generation;
using TorchSharp;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench memory</c>: a long optimisation run (1000 steps by default) printing the live-tensor
/// count, resident memory and managed heap at step 0 and every N steps, so "memory stays flat"
/// is a printed figure rather than a claim. Exit code 1 when the live-tensor count moved.
/// </summary>
public static class MemoryBenchmark
{
    /// <summary>One sample: after <paramref name="Step"/> steps.</summary>
    public sealed record Sample(int Step, long LiveTensors, double RssMb, double ManagedMb);

    public static Command Create()
    {
        var clip = new Option<string>("--clip") { Description = "CLIP checkpoint (e.g. FuseDream.Tests/Fixtures/clip/clip_tiny_jit.pt).", Required = true };
        var bigGan = new Option<string>("--biggan") { Description = "BigGAN checkpoint (e.g. FuseDream.Tests/Fixtures/biggan/G512_tiny.pth).", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimisation steps.", DefaultValueFactory = _ => 1000 };
        var every = new Option<int>("--every") { Description = "Print a row every this many steps.", DefaultValueFactory = _ => 250 };
        var augmentations = new Option<int>("--augmentations") { Description = "Augmentations per step.", DefaultValueFactory = _ => 8 };
        var runtime = new RuntimeOptions();

        var command = new Command("memory", "Run many optimisation steps; print live tensors and memory every N steps.")
        {
            clip, bigGan, steps, every, augmentations,
        };
        runtime.AddTo(command);
        command.SetAction((ParseResult parse, CancellationToken ct) =>
        {
            try
            {
                var deviceName = runtime.DeviceName(parse);
                var dev = runtime.ParseDevice(parse);
                runtime.ApplyThreads(parse);
                var clipPath = RequireFile(parse.GetValue(clip)!, "--clip");
                var bigGanPath = RequireFile(parse.GetValue(bigGan)!, "--biggan");
                using var clipModel = ClipCheckpoint.Load(clipPath, dev);
                using var generator = BigGanCheckpoint.Load(bigGanPath, null, dev);
                Console.WriteLine($"Device: {deviceName}   CPU threads: {get_num_threads()}   {Path.GetFileName(bigGanPath)} + {Path.GetFileName(clipPath)}");
                var samples = Run(Console.Out, clipModel, generator, dev, parse.GetValue(steps), parse.GetValue(every), parse.GetValue(augmentations), ct);
                return Task.FromResult(IsFlat(samples) ? 0 : 1);
            }
            catch (Exception ex) when (ex is ArgumentException or FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return Task.FromResult(2);
            }
        });
        return command;
    }

    /// <summary>
    /// Runs <paramref name="steps"/> steps over a random 5-sample basis, sampling after one
    /// warm-up step (row 0) and every <paramref name="every"/> steps; writes a table and a verdict.
    /// </summary>
    public static IReadOnlyList<Sample> Run(TextWriter output, ClipModel clip, BigGanGenerator generator, Device device,
        int steps, int every, int augmentations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (steps < 1) throw new ArgumentException($"--steps must be at least 1 (got {steps})");
        if (every < 1 || every > steps) throw new ArgumentException($"--every must be between 1 and --steps ({steps}) (got {every})");
        if (augmentations < 1 || augmentations > GenerationOptions.Limits.Augmentations.Max)
            throw new ArgumentException($"--augmentations must be between 1 and {GenerationOptions.Limits.Augmentations.Max} (got {augmentations})");

        using var scorer = AugClipScorer.ForPrompt(clip, "a photo of a cute corgi", device);
        using var random = new TorchRandomSource(1);
        using var basisZ = randn([5, generator.DimZ], generator: new Generator(2)).clamp(-2, 2).to(device);
        using var classes = randint(0, generator.NumClasses, [5], generator: new Generator(3)).to(device);
        using var basisY = generator.ClassEmbedding(classes).detach();
        using var optimizer = new LatentOptimizer(generator, scorer, basisZ, basisY,
            new LatentOptimizerSettings { Augmentations = augmentations }, random, device);

        optimizer.Step(); // warm-up: Adam's state exists from the first step on
        var samples = new List<Sample> { Measure(0) };
        output.WriteLine("| step | live tensors | RSS MB | managed MB |");
        output.WriteLine("|---|---|---|---|");
        Write(output, samples[0]);
        for (var step = 1; step <= steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            optimizer.Step();
            if (step % every == 0 || step == steps)
            {
                samples.Add(Measure(step));
                Write(output, samples[^1]);
            }
        }
        var first = samples[0];
        var last = samples[^1];
        output.WriteLine(IsFlat(samples)
            ? $"flat: the live-tensor count stayed at {first.LiveTensors} over {steps} steps; RSS {first.RssMb:0} → {last.RssMb:0} MB"
            : $"NOT flat: live tensors {string.Join(" → ", samples.Select(s => s.LiveTensors))}");
        return samples;
    }

    /// <summary>True when every sample has the live-tensor count of the first.</summary>
    public static bool IsFlat(IReadOnlyList<Sample> samples) =>
        samples.Count > 0 && samples.All(s => s.LiveTensors == samples[0].LiveTensors);

    private static Sample Measure(int step)
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new Sample(step, LiveTensorCount.Uncached,
            process.WorkingSet64 / 1048576.0, GC.GetTotalMemory(forceFullCollection: false) / 1048576.0);
    }

    private static void Write(TextWriter output, Sample s) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {s.Step} | {s.LiveTensors} | {s.RssMb:0} | {s.ManagedMb:0.0} |"));

    private static string RequireFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"{option}: '{path}' is a directory; give the checkpoint file itself");
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: file not found: '{Path.GetFullPath(path)}'", path);
        return path;
    }
}
