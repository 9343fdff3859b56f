using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Clip;
using FuseDream.Generation;
using static TorchSharp.torch;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>bench quality</c>: AugCLIP per optimisation step for each start strategy, with and without
/// keeping the best measured latent, over many seeds. Per seed the basis is searched once and
/// every start is optimised from it with the same noise and augmentation draws (a stream derived
/// from the seed, the same for every strategy). Every <c>--every</c> steps (and at step 0) each
/// run is measured twice: with the pipeline's trace draws of that step (what KeepBest selects on),
/// and with evaluation draws of that step shared by all strategies, which give the reported
/// figures: paired, and independent of the selection, so keeping the best is not flattered by the
/// noise it selected on. Each finished seed is appended to <c>--raw</c> (JSON lines), so a cut-short
/// run still yields its table (<c>--from</c>).
/// </summary>
public static class QualityBenchmark
{
    public const string DefaultPrompt = "a photo of a red bird on a branch";

    /// <summary>One strategy's curve for one seed: the evaluated AugCLIP at each measured step, and the trace (selection) measurements.</summary>
    public sealed record Curve(long Seed, string Strategy, int[] Steps, double[] Scores, double[] Trace);

    public static Command Create()
    {
        var clip = new Option<string?>("--clip") { Description = "CLIP checkpoint (default: the test fixtures' tiny CLIP)." };
        var bigGan = new Option<string?>("--biggan") { Description = "BigGAN checkpoint (default: the test fixtures' tiny BigGAN-512)." };
        var prompt = new Option<string>("--prompt") { Description = "Prompt.", DefaultValueFactory = _ => DefaultPrompt };
        var seeds = new Option<int>("--seeds") { Description = "Seeds (1 … N from --first-seed).", DefaultValueFactory = _ => 12 };
        var firstSeed = new Option<long>("--first-seed") { Description = "First seed.", DefaultValueFactory = _ => 1 };
        var basisSamples = new Option<int>("--basis-samples") { Description = "Basis samples (drawn 10 per iteration).", DefaultValueFactory = _ => 200 };
        var topK = new Option<int>("--top-k") { Description = "Basis size.", DefaultValueFactory = _ => 5 };
        var augmentations = new Option<int>("--augmentations") { Description = "Augmentations per step and per measurement.", DefaultValueFactory = _ => 50 };
        var steps = new Option<int>("--steps") { Description = "Steps of every run (the paper strategy's step count).", DefaultValueFactory = _ => 60 };
        var every = new Option<int>("--every") { Description = "Measure every this many steps.", DefaultValueFactory = _ => 5 };
        var inits = new Option<string[]>("--inits") { Description = $"Start strategies to run ({string.Join(", ", LatentInit.All)}); each is reported as is and with +keep.", DefaultValueFactory = _ => [.. LatentInit.All], AllowMultipleArgumentsPerToken = true };
        var at = new Option<int[]>("--at") { Description = "Steps to show in the table (default: 0, 10, 20, 30, 45 and the last).", AllowMultipleArgumentsPerToken = true };
        var patience = new Option<int>("--patience") { Description = "Also show where the stop-when-flat rule with this patience (measurements) would end each run (0: not shown).", DefaultValueFactory = _ => 3 };
        var minImprovement = new Option<double>("--min-improvement") { Description = "The rule's minimum improvement.", DefaultValueFactory = _ => 0.001 };
        var raw = new Option<string>("--raw") { Description = "JSON-lines file the curves are appended to, seed by seed.", DefaultValueFactory = _ => "bench-quality.jsonl" };
        var from = new Option<string?>("--from") { Description = "Only summarise the curves already in this JSON-lines file (no models needed)." };
        var plot = new Option<string?>("--plot") { Description = "PNG plot of AugCLIP against steps (mean ± sd band per strategy).", DefaultValueFactory = _ => "bench-quality.png" };
        var runtime = new RuntimeOptions("cpu");

        var command = new Command("quality", "AugCLIP against steps per start strategy over many seeds; table and plot.")
        {
            clip, bigGan, prompt, seeds, firstSeed, basisSamples, topK, augmentations, steps, every, inits, at, patience, minImprovement, raw, from, plot,
        };
        runtime.AddTo(command);
        command.SetAction((ParseResult parse, CancellationToken ct) =>
        {
            try
            {
                var rule = (parse.GetValue(patience), parse.GetValue(minImprovement));
                IReadOnlyList<Curve> curves;
                if (parse.GetValue(from) is { } fromPath)
                    curves = ReadCurves(fromPath);
                else
                {
                    var settings = new Settings(parse.GetValue(prompt)!, parse.GetValue(seeds), parse.GetValue(firstSeed), parse.GetValue(basisSamples),
                        parse.GetValue(topK), parse.GetValue(augmentations), parse.GetValue(steps), parse.GetValue(every), parse.GetValue(inits)!);
                    settings.EnsureValid();
                    var deviceName = runtime.DeviceName(parse);
                    var dev = runtime.ParseDevice(parse);
                    runtime.ApplyThreads(parse);
                    var clipPath = RequireFile(parse.GetValue(clip) ?? Fixture("clip", "clip_tiny_jit.pt"), "--clip");
                    var bigGanPath = RequireFile(parse.GetValue(bigGan) ?? Fixture("biggan", "G512_tiny.pth"), "--biggan");
                    using var clipModel = ClipCheckpoint.Load(clipPath, dev);
                    using var generator = BigGanCheckpoint.Load(bigGanPath, null, dev);
                    Freeze(clipModel);
                    Freeze(generator);
                    Console.WriteLine($"Device: {deviceName}   CPU threads: {get_num_threads()}   {Path.GetFileName(bigGanPath)} + {Path.GetFileName(clipPath)}");
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"Prompt: \"{settings.Prompt}\"   seeds {settings.FirstSeed}…{settings.FirstSeed + settings.Seeds - 1}   basis {settings.BasisSamples} → top {settings.TopK}   {settings.Steps} steps × {settings.Augmentations} augmentations   measured every {settings.Every}"));
                    curves = Run(settings, clipModel, generator, dev, parse.GetValue(raw)!, ct);
                }
                var report = QualityReport.Summarise(curves, parse.GetValue(at), rule.Item1, rule.Item2);
                Console.Write(report.Markdown);
                if (parse.GetValue(plot) is { } plotPath)
                {
                    QualityReport.Plot(report, plotPath);
                    Console.WriteLine($"Plot: {plotPath}");
                }
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

    public sealed record Settings(string Prompt, int Seeds, long FirstSeed, int BasisSamples, int TopK, int Augmentations, int Steps, int Every, string[] Inits)
    {
        public void EnsureValid()
        {
            if (string.IsNullOrWhiteSpace(Prompt)) throw new ArgumentException("--prompt: empty");
            if (Seeds < 1) throw new ArgumentException($"--seeds must be at least 1 (got {Seeds})");
            if (BasisSamples < 1 || BasisSamples % 10 != 0) throw new ArgumentException($"--basis-samples must be a positive multiple of 10 (got {BasisSamples})");
            if (TopK < 1 || TopK > BasisSamples) throw new ArgumentException($"--top-k must be between 1 and --basis-samples (got {TopK})");
            if (Augmentations < 1 || Augmentations > GenerationOptions.Limits.Augmentations.Max)
                throw new ArgumentException($"--augmentations must be between 1 and {GenerationOptions.Limits.Augmentations.Max} (got {Augmentations})");
            if (Steps < 1) throw new ArgumentException($"--steps must be at least 1 (got {Steps})");
            if (Every < 1 || Every > Steps) throw new ArgumentException($"--every must be between 1 and --steps (got {Every})");
            if (Inits.Length == 0 || Inits.Any(i => !LatentInit.All.Contains(i)))
                throw new ArgumentException($"--inits: each must be one of {string.Join(", ", LatentInit.All)} (got {string.Join(", ", Inits)})");
        }
    }

    public static IReadOnlyList<Curve> Run(Settings settings, ClipModel clip, BigGanGenerator generator, Device device, string rawPath, CancellationToken ct)
    {
        var curves = new List<Curve>();
        using var scorer = AugClipScorer.ForPrompt(clip, settings.Prompt, device);
        for (var i = 0; i < settings.Seeds; i++)
        {
            var seed = settings.FirstSeed + i;
            var seedCurves = new List<Curve>();
            using (var random = new TorchRandomSource(seed))
            using (var basis = BasisSearch.Run(generator, scorer, new BasisSearchSettings(settings.BasisSamples / 10, 10, settings.TopK, 10), random, device, cancellationToken: ct))
            {
                foreach (var init in settings.Inits)
                    seedCurves.AddRange(Optimise(settings, init, seed, generator, scorer, basis, device, ct));
            }
            using (var writer = File.AppendText(rawPath))
                foreach (var curve in seedCurves) writer.WriteLine(JsonSerializer.Serialize(curve));
            curves.AddRange(seedCurves);
            Console.Error.WriteLine($"seed {seed}: " + string.Join("   ", seedCurves.Select(c =>
                string.Create(CultureInfo.InvariantCulture, $"{c.Strategy} {c.Scores[0]:0.0000} → {c.Scores[^1]:0.0000}"))));
        }
        return curves;
    }

    /// <summary>One optimisation from <paramref name="basis"/>; two curves: the current latent (<c>init</c>) and the kept best (<c>init+keep</c>).</summary>
    private static IEnumerable<Curve> Optimise(Settings settings, string init, long seed, BigGanGenerator generator, AugClipScorer scorer,
        LatentBasis basis, Device device, CancellationToken ct)
    {
        using var random = new TorchRandomSource(TorchRandomSource.DeriveSeed(seed, 0xB0));
        using var optimizer = new LatentOptimizer(generator, scorer, basis.Z, basis.Y,
            new LatentOptimizerSettings { Init = init, Augmentations = settings.Augmentations }, random, device);
        using var best = new BestLatent();
        var steps = new List<int>();
        var current = new List<double>();
        var kept = new List<double>();
        var trace = new List<double>();
        for (var step = 0; step <= settings.Steps; step++)
        {
            ct.ThrowIfCancellationRequested();
            if (step > 0) optimizer.Step();
            if (step % settings.Every != 0 && step != settings.Steps) continue;
            var (z, y) = optimizer.Combine();
            using (z)
            using (y)
            {
                double selection;
                using (var draws = FuseDreamPipeline.MeasurementDraws(seed, step))
                    selection = Measure(generator, scorer, z, y, settings.Augmentations, draws);
                if (step > 0) best.Offer(step, selection, z, y);
                var evaluated = Measure(generator, scorer, z, y, settings.Augmentations, EvaluationDraws(seed, step));
                var keptScore = evaluated;
                if (best.Step is { } bestStep && bestStep != step && best.Copy() is { } copy)
                {
                    using (copy.Z)
                    using (copy.Y)
                        keptScore = Measure(generator, scorer, copy.Z, copy.Y, settings.Augmentations, EvaluationDraws(seed, step));
                }
                steps.Add(step);
                trace.Add(selection);
                current.Add(evaluated);
                kept.Add(keptScore);
            }
        }
        return
        [
            new Curve(seed, init, [.. steps], [.. current], [.. trace]),
            new Curve(seed, init + "+keep", [.. steps], [.. kept], [.. trace]),
        ];
    }

    /// <summary>The reported measurement's draws at a step: the same for every strategy (paired), apart from the trace's.</summary>
    private static TorchRandomSource EvaluationDraws(long seed, int step) =>
        new(TorchRandomSource.DeriveSeed(TorchRandomSource.DeriveSeed(seed, 0xE7A1), (ulong)step));

    private static double Measure(BigGanGenerator generator, AugClipScorer scorer, Tensor z, Tensor y, int count, TorchRandomSource draws)
    {
        using (draws)
        using (no_grad())
        using (NewDisposeScope())
        {
            var image = generator.Generate(z, y); // [1, 3, R, R]
            return scorer.MeasureAugClip(image, count, draws);
        }
    }

    public static IReadOnlyList<Curve> ReadCurves(string path)
    {
        RequireFile(path, "--from");
        var curves = new List<Curve>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { curves.Add(JsonSerializer.Deserialize<Curve>(line) ?? throw new InvalidDataException($"{path}: a null line")); }
            catch (JsonException ex) { throw new InvalidDataException($"{path}: not a curve line: {ex.Message}", ex); }
        }
        if (curves.Count == 0) throw new InvalidDataException($"{path}: no curves");
        return curves;
    }

    /// <summary>A fixture file, found from the working folder up (the repository root or below it).</summary>
    internal static string Fixture(string group, string file)
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "FuseDream.Tests", "Fixtures", group, file);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"the test fixtures' {file} was not found above '{Environment.CurrentDirectory}'; give --clip and --biggan");
    }

    internal static string RequireFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"{option}: '{path}' is a directory; give the file itself");
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: file not found: '{Path.GetFullPath(path)}'", path);
        return path;
    }

    private static void Freeze(TorchSharp.torch.nn.Module module)
    {
        module.eval();
        foreach (var parameter in module.parameters()) parameter.requires_grad = false;
    }
}
