using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using FuseDream.BigGan;
using FuseDream.Clip;
using FuseDream.Generation;
using TorchSharp;
using static TorchSharp.torch;
using FuseDream.Checkpoints;
using FuseDream.Models;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench pipeline</c>: seconds per basis batch and per optimisation step (with 8 and 50
/// augmentations by default) and memory, for given model files (e.g. the test fixtures' tiny
/// models) and, when asked, for full-size BigGAN-256/512 + CLIP ViT-B/32 with random weights;
/// each configuration in every precision asked for (<c>--precision fp32 bf16</c>); with
/// <c>--ensemble</c>, the step cost of each CLIP alone and of all of them as one ensemble. Each
/// figure is the median of the timed runs, after one warm-up run.
/// </summary>
public static class PipelineBenchmark
{
    public static Command Create()
    {
        var clip = new Option<string?>("--clip") { Description = "CLIP checkpoint to measure (with --biggan)." };
        var bigGan = new Option<string[]>("--biggan") { Description = "BigGAN checkpoint(s) to measure with --clip.", AllowMultipleArgumentsPerToken = true };
        var full = new Option<int[]>("--full") { Description = "Also measure full-size random-weight models at these resolutions (256, 512) with CLIP ViT-B/32.", AllowMultipleArgumentsPerToken = true };
        var ensemble = new Option<string[]>("--ensemble")
        {
            Description = "Time a step with each of these CLIPs alone, then with all of them as an equal-weight ensemble: " +
                          $"{string.Join(", ", RandomClips.Keys)} (full size, random weights) or CLIP checkpoint files; " +
                          "with the first --biggan file, else BigGAN-256 with random weights.",
            AllowMultipleArgumentsPerToken = true,
        };
        var runtime = new RuntimeOptions();
        var precision = RuntimeOptions.CreatePrecisionsOption();
        var augmentations = new Option<int[]>("--augmentations") { Description = "Augmentation counts to time a step with.", DefaultValueFactory = _ => [8, 50], AllowMultipleArgumentsPerToken = true };
        var steps = new Option<int>("--steps") { Description = "Timed optimisation steps per configuration (after one warm-up step); the median is reported.", DefaultValueFactory = _ => 3 };
        var basisBatch = new Option<int>("--basis-batch") { Description = "Samples per basis batch; 0 (the default): chosen from the memory available, as the worker does.", DefaultValueFactory = _ => PipelineTuning.ChooseFromMemory };
        var basisBatches = new Option<int>("--basis-batches") { Description = "Timed basis batches (after one warm-up batch); the median is reported.", DefaultValueFactory = _ => 3 };

        var command = new Command("pipeline", "Time basis search and optimisation steps (median of the timed runs after a warm-up); print a table with memory, precision and threads.")
        {
            clip, bigGan, full, ensemble,
        };
        runtime.AddTo(command);
        foreach (var option in new Option[] { precision, augmentations, steps, basisBatch, basisBatches }) command.Options.Add(option);
        command.SetAction((ParseResult parse, CancellationToken ct) =>
        {
            try
            {
                var deviceName = runtime.DeviceName(parse);
                var dev = runtime.ParseDevice(parse);
                var precisions = RuntimeOptions.ParsePrecisions(parse, precision, dev);
                runtime.ApplyThreads(parse);
                var settings = new Settings(parse.GetValue(augmentations)!, parse.GetValue(steps), parse.GetValue(basisBatch), parse.GetValue(basisBatches));
                settings.EnsureValid();
                var clipPath = parse.GetValue(clip);
                var bigGanPaths = parse.GetValue(bigGan) ?? [];
                var resolutions = parse.GetValue(full) ?? [];
                var ensembleClips = parse.GetValue(ensemble) ?? [];
                if (clipPath is null && resolutions.Length == 0 && ensembleClips.Length == 0)
                    throw new ArgumentException("nothing to measure: give --clip <file> --biggan <file> (e.g. the test fixtures' tiny models), --full 256 512 and/or --ensemble vit-b-32 vit-b-16");
                if (clipPath is not null && bigGanPaths.Length == 0)
                    throw new ArgumentException("--clip needs --biggan <file>");
                if (resolutions.FirstOrDefault(r => r is not (256 or 512)) is var bad and not 0)
                    throw new ArgumentException($"--full: resolution {bad} is not one of 256, 512");

                var rows = new List<Row>();
                var threads = get_num_threads();
                Console.WriteLine($"Device: {deviceName}   CPU threads: {threads}   Processor count: {Environment.ProcessorCount}   " +
                                  $"Build: {BuildConfiguration}   Runs: median of {settings.BasisBatches} basis batches and {settings.Steps} steps, after one warm-up each   {RuntimeInformation.OSDescription}");
                Console.WriteLine($"Precision auto on this device: {ModelPrecision.ChooseDefault(dev)}   measured: {string.Join(", ", precisions.Select(ModelPrecision.Name))}");
                var configurations = new List<(string Name, Func<(ClipModel, BigGanGenerator)> Load)>();
                if (clipPath is not null)
                    foreach (var path in bigGanPaths)
                        configurations.Add(($"{Path.GetFileName(path)} + {Path.GetFileName(clipPath)}",
                            () => (ClipCheckpoint.Load(clipPath, dev), BigGanCheckpoint.Load(path, null, dev))));
                foreach (var resolution in resolutions)
                    configurations.Add(($"BigGAN-{resolution} + ViT-B/32 (random weights)", () =>
                    {
                        var generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(resolution), seed: 1);
                        generator.to(dev);
                        return (ClipRandomInit.Create(ClipConfig.VitB32, new Generator(1), dev), generator);
                    }));
                foreach (var (name, load) in configurations)
                    foreach (var p in precisions)
                    {
                        // Fresh fp32 models for every precision: converting to bf16 and back would not give fp32's weights.
                        var (clipModel, generator) = load();
                        using (clipModel)
                        using (generator)
                        {
                            Freeze(clipModel, p);
                            Freeze(generator, p);
                            rows.AddRange(Measure(name, ModelPrecision.Name(p), threads, clipModel, generator, dev, settings, ct));
                        }
                    }
                if (ensembleClips.Length > 0)
                    foreach (var p in precisions)
                        rows.AddRange(MeasureEnsemble(ensembleClips, bigGanPaths.FirstOrDefault(), p, threads, dev, settings, ct));
                Print(rows);
                return Task.FromResult(0);
            }
            catch (Exception ex) when (ex is ArgumentException or FileNotFoundException or InvalidDataException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return Task.FromResult(2);
            }
        });
        return command;
    }

#if DEBUG
    private const string BuildConfiguration = "Debug (figures are not representative: use -c Release)";
#else
    private const string BuildConfiguration = "Release";
#endif

    private sealed record Settings(int[] Augmentations, int Steps, int BasisBatch, int BasisBatches)
    {
        public void EnsureValid()
        {
            if (Augmentations.Length == 0 || Augmentations.Any(a => a < 1 || a > GenerationOptions.Limits.Augmentations.Max))
                throw new ArgumentException($"--augmentations: each must be between 1 and {GenerationOptions.Limits.Augmentations.Max}");
            if (Steps < 1) throw new ArgumentException($"--steps must be at least 1 (got {Steps})");
            if (BasisBatch < 0) throw new ArgumentException($"--basis-batch must be at least 1, or 0 to choose it from memory (got {BasisBatch})");
            if (BasisBatches < 1) throw new ArgumentException($"--basis-batches must be at least 1 (got {BasisBatches})");
        }
    }

    private sealed record Row(string Models, string Precision, int Threads, string Measure, double MedianSeconds, int Runs,
        double? SamplesPerSecond, double? HoursPer1000Steps, long LiveTensorDelta, double PeakRssMb, double? GpuUsedMb);

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static void Freeze(nn.Module module, Precision precision)
    {
        module.eval();
        foreach (var parameter in module.parameters()) parameter.requires_grad = false;
        ModelPrecision.ApplyTo(module, precision);
    }

    /// <summary>The full-size CLIPs <c>--ensemble</c> can build with random weights (the cost does not depend on the weights).</summary>
    private static readonly IReadOnlyDictionary<string, ClipConfig> RandomClips = new Dictionary<string, ClipConfig>
    {
        ["vit-b-32"] = ClipConfig.VitB32,
        ["vit-b-16"] = ClipConfig.VitB16,
        ["vit-l-14"] = ClipConfig.VitL14,
        ["vit-l-14-336"] = ClipConfig.VitL14 with { ImageResolution = 336 },
    };

    /// <summary>Rows of each CLIP's step alone (no basis search), then of the ensemble of all of them.</summary>
    private static List<Row> MeasureEnsemble(string[] names, string? bigGanPath, Precision precision, int threads, Device device, Settings settings, CancellationToken ct)
    {
        if (names.Length < 2) throw new ArgumentException($"--ensemble needs at least two CLIPs (got {names.Length})");
        var clips = new List<(string Name, ClipModel Clip)>();
        BigGanGenerator? generator = null;
        try
        {
            foreach (var name in names)
            {
                var clip = RandomClips.TryGetValue(name, out var config) ? ClipRandomInit.Create(config, new Generator(1), device)
                    : File.Exists(name) ? ClipCheckpoint.Load(name, device)
                    : throw new ArgumentException($"--ensemble: '{name}' is neither one of {string.Join(", ", RandomClips.Keys)} nor a CLIP checkpoint file");
                Freeze(clip, precision);
                clips.Add((RandomClips.ContainsKey(name) ? $"{name} (random weights, {clip.InputResolution} px)" : Path.GetFileName(name), clip));
            }
            if (bigGanPath is not null) generator = BigGanCheckpoint.Load(bigGanPath, null, device);
            else
            {
                generator = BigGanRandomInit.Create(BigGanConfig.ForResolution(256), seed: 1);
                generator.to(device);
            }
            Freeze(generator, precision);
            var gan = bigGanPath is null ? "BigGAN-256 (random weights)" : Path.GetFileName(bigGanPath);
            var precisionName = ModelPrecision.Name(precision);
            WeightedPrompt[] prompt = [new("a photo of a cute corgi", 1.0)];
            var rows = new List<Row>();
            foreach (var (name, clip) in clips)
            {
                using var scorer = AugClipScorer.ForPrompts([(clip, 1.0)], prompt, device);
                rows.AddRange(Measure($"{gan} + {name}", precisionName, threads, scorer, generator, device, settings, ct, basis: false));
            }
            using (var scorer = AugClipScorer.ForPrompts([.. clips.Select(c => (c.Clip, 1.0))], prompt, device))
                rows.AddRange(Measure($"{gan} + ensemble of {string.Join(", ", names.Select(n => RandomClips.ContainsKey(n) ? n : Path.GetFileName(n)))}",
                    precisionName, threads, scorer, generator, device, settings, ct, basis: false));
            return rows;
        }
        finally
        {
            generator?.Dispose();
            foreach (var (_, clip) in clips) clip.Dispose();
        }
    }

    private static IEnumerable<Row> Measure(string name, string precision, int threads, ClipModel clip, BigGanGenerator generator, Device device, Settings settings, CancellationToken ct)
    {
        using var scorer = AugClipScorer.ForPrompt(clip, "a photo of a cute corgi", device);
        foreach (var row in Measure(name, precision, threads, scorer, generator, device, settings, ct, basis: true)) yield return row;
    }

    private static IEnumerable<Row> Measure(string name, string precision, int threads, AugClipScorer scorer, BigGanGenerator generator, Device device, Settings settings, CancellationToken ct, bool basis)
    {
        Console.Error.WriteLine($"Measuring {name} in {precision}…");
        using var random = new TorchRandomSource(1);
        var gpu = new GpuMemory(device);
        var clock = Stopwatch.StartNew();
        if (basis)
        {
            // Basis search: one warm-up batch, then the timed ones, each timed on its own.
            var batch = settings.BasisBatch == PipelineTuning.ChooseFromMemory
                ? BasisBatchSizing.Choose(generator.Resolution, device)
                : new BasisBatchChoice(settings.BasisBatch, "set by --basis-batch");
            Console.WriteLine($"{name}, {precision}: basis batch {batch}");
            settings = settings with { BasisBatch = batch.Size };
            var search = new BasisSearchSettings(1 + settings.BasisBatches, settings.BasisBatch, 1, settings.BasisBatch);
            var before = LiveTensorCount.Uncached;
            var batchSeconds = new List<double>();
            var batches = 0;
            using (BasisSearch.Run(generator, scorer, search, random, device, onProgress: (done, _) =>
            {
                Synchronize(device);
                if (batches++ > 0) batchSeconds.Add(clock.Elapsed.TotalSeconds);
                gpu.Sample();
                clock.Restart();
            }, cancellationToken: ct))
            {
            }
            var perBatch = Median(batchSeconds);
            yield return new Row(name, precision, threads, $"basis batch of {settings.BasisBatch}", perBatch, batchSeconds.Count,
                settings.BasisBatch / perBatch, null, LiveTensorCount.Uncached - before, PeakRssMb(), gpu.PeakMb);
        }

        using var basisZ = randn([5, generator.DimZ], generator: new Generator(2)).clamp(-2, 2).to(device);
        using var classes = randint(0, generator.NumClasses, [5], generator: new Generator(3)).to(device);
        using var basisY = generator.ClassEmbedding(classes).detach();
        foreach (var augmentations in settings.Augmentations)
        {
            ct.ThrowIfCancellationRequested();
            using var optimizer = new LatentOptimizer(generator, scorer, basisZ, basisY,
                new LatentOptimizerSettings { Augmentations = augmentations }, random, device);
            optimizer.Step(); // warm-up
            Synchronize(device);
            var live = LiveTensorCount.Uncached;
            var stepSeconds = new List<double>();
            for (var i = 0; i < settings.Steps; i++)
            {
                clock.Restart();
                optimizer.Step();
                Synchronize(device);
                stepSeconds.Add(clock.Elapsed.TotalSeconds);
                gpu.Sample();
            }
            var perStep = Median(stepSeconds);
            yield return new Row(name, precision, threads, $"step, {augmentations} augmentations", perStep, stepSeconds.Count,
                null, 1000 * perStep / 3600, LiveTensorCount.Uncached - live, PeakRssMb(), gpu.PeakMb);
        }
    }

    private static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }

    private static double PeakRssMb()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64 / 1048576.0;
    }

    private static void Print(List<Row> rows)
    {
        string[] header = ["models", "precision", "threads", "measure", "median s", "runs", "samples/s", "h per 1000 steps", "live tensors Δ", "peak RSS MB", "GPU used MB"];
        static string Optional(double? value) => value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) : "";
        var cells = rows.Select(r => new[]
        {
            r.Models, r.Precision, r.Threads.ToString(CultureInfo.InvariantCulture), r.Measure,
            r.MedianSeconds.ToString("0.000", CultureInfo.InvariantCulture), r.Runs.ToString(CultureInfo.InvariantCulture),
            Optional(r.SamplesPerSecond), Optional(r.HoursPer1000Steps),
            r.LiveTensorDelta.ToString(CultureInfo.InvariantCulture), r.PeakRssMb.ToString("0", CultureInfo.InvariantCulture),
            r.GpuUsedMb is { } g ? g.ToString("0", CultureInfo.InvariantCulture) : "n/a",
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length))).ToArray();
        string Line(string[] c) => "| " + string.Join(" | ", c.Select((v, i) => v.PadRight(widths[i]))) + " |";
        Console.WriteLine(Line(header));
        Console.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var c in cells) Console.WriteLine(Line(c));
    }

    /// <summary>Device-wide used memory (total − free) from the CUDA runtime, sampled; TorchSharp 0.107 exposes no allocator statistics.</summary>
    private sealed class GpuMemory(Device device)
    {
        private bool _unavailable = device.type != DeviceType.CUDA;

        public double? PeakMb { get; private set; }

        public void Sample()
        {
            if (_unavailable) return;
            if (DeviceMemory.Cuda() is not { } memory)
            {
                _unavailable = true;
                return;
            }
            PeakMb = Math.Max(PeakMb ?? 0, (memory.Total - memory.Free) / 1048576.0);
        }
    }
}
