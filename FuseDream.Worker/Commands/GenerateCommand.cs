using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using FuseDream.Composition;
using FuseDream.Generation;
using FuseDream.Models;
using FuseDream.Text;

namespace FuseDream.Worker.Commands;

/// <summary>
/// <c>generate "&lt;prompt&gt;"</c>: one FuseDream generation from the command line. Writes the PNG
/// (with its provenance), the score trace and the previews, shows a progress line, prints the
/// final AugCLIP score.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var promptArgument = new Argument<string?>("prompt") { Description = "The text to draw (or --prompt).", Arity = ArgumentArity.ZeroOrOne };
        var prompt = new Option<string[]>("--prompt", "-p") { Description = $"The text to draw; repeat it for several prompts, each \"text:weight\" (weight between -{WeightedPrompts.MaxAbsWeight:G} and {WeightedPrompts.MaxAbsWeight:G}, default 1; at most {WeightedPrompts.MaxPrompts} prompts in all)." };
        var negative = new Option<string[]>("--negative") { Description = $"A text to push the image away from (a prompt of weight {WeightedPrompts.NegativeWeight:G}); repeatable." };
        var clip = new Option<string?>("--clip") { Description = "CLIP checkpoint (OpenAI ViT-B-32.pt, a torch.save state dict or safetensors)." };
        var bigGan = new Option<string?>("--biggan") { Description = "BigGAN generator checkpoint (biggan-256.pth or biggan-512.pth)." };
        var modelDir = new Option<string?>("--model-dir") { Description = $"Folder holding {string.Join(" or ", ModelResolver.ClipFileNames)} and biggan-256.pth / biggan-512.pth (used for what --clip/--biggan leave out; default: the model store, FUSEDREAM_MODELS)." };
        var output = new Option<string>("--out", "-o") { Description = "Output: a .png path (trace and previews beside it) or a folder.", DefaultValueFactory = _ => "fusedream-out" };
        var preset = new Option<string>("--preset") { Description = $"Starting options: {string.Join(", ", GenerationPresets.All.Keys)}.", DefaultValueFactory = _ => "paper" };
        var seed = new Option<long?>("--seed") { Description = "Random seed (default: a fresh one, printed)." };
        var runtime = new RuntimeOptions();
        var basisBatch = new Option<int>("--basis-batch") { Description = "Basis samples rendered per batch (speed/memory only; the same samples whatever it is); 0, the default: chosen from the memory available.", DefaultValueFactory = _ => new PipelineTuning().BasisBatchSize };
        var measureBatch = new Option<int>("--measure-batch") { Description = "Augmented copies scored per batch when measuring AugCLIP.", DefaultValueFactory = _ => new PipelineTuning().MeasureBatchSize };
        var precision = RuntimeOptions.CreatePrecisionOption();
        var fusedResize = new Option<bool>("--fused-resize") { Description = "Resize with libtorch's fused bilinear kernel (faster; within a few 1e-6 of the exact path the parity tests use)." };
        var overrides = new OptionOverrides();
        var scene = new SceneFlags();

        var command = new Command("generate", "Generate one image from a prompt with FuseDream (AugCLIP + over-parameterised BigGAN latents).")
        {
            promptArgument, prompt, negative, clip, bigGan, modelDir, output, preset, seed,
        };
        runtime.AddTo(command);
        command.Options.Add(basisBatch);
        command.Options.Add(measureBatch);
        command.Options.Add(precision);
        command.Options.Add(fusedResize);
        overrides.AddTo(command);
        scene.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var (text, weighted) = Prompts(parse.GetValue(promptArgument), parse.GetValue(prompt) ?? [], parse.GetValue(negative) ?? []);
                var components = scene.Components(parse);
                if (components is not null && weighted is not null)
                    throw new ArgumentException("--component takes one scene prompt: weighted prompts (--prompt \"text:weight\", --negative) are for a single-prompt run");
                var options = overrides.Apply(components is null ? GenerationPresets.Get(parse.GetValue(preset)!) : CompositionPresets.Get(parse.GetValue(preset)!).Components, parse) with { Prompts = weighted };
                var runSeed = parse.GetValue(seed) ?? RandomNumberGenerator.GetInt32(int.MaxValue);
                var deviceName = runtime.DeviceName(parse);
                var device = runtime.ParseDevice(parse);
                var precisionChoice = RuntimeOptions.ChoosePrecision(parse, precision, device);
                if (parse.GetValue(basisBatch) < 0)
                    throw new ArgumentException($"--basis-batch must be at least 1, or 0 to choose it from memory (got {parse.GetValue(basisBatch)})");
                if (parse.GetValue(measureBatch) < 1)
                    throw new ArgumentException($"--measure-batch must be at least 1 (got {parse.GetValue(measureBatch)})");
                var models = ModelResolver.Default().Resolve(parse.GetValue(clip), parse.GetValue(bigGan), parse.GetValue(modelDir), parse.GetValue(overrides.Model) ?? options.Model);
                runtime.ApplyThreads(parse);
                var paths = OutputPaths.For(parse.GetValue(output)!);
                var inputs = new PipelineInputs(models, deviceName, precisionChoice,
                    new PipelineTuning { BasisBatchSize = parse.GetValue(basisBatch), MeasureBatchSize = parse.GetValue(measureBatch), FusedResize = parse.GetValue(fusedResize) });
                if (components is not null)
                    return await ComposedGenerate.RunAsync(new ComposedGenerate.Inputs(text, components, parse.GetValue(preset)!, runSeed, inputs, paths),
                        parse, overrides, scene, cancellationToken);
                var modelGiven = parse.GetValue(overrides.Model) is not null;
                PipelineInputs.CheckBeforeLoading(options.Validate(), modelGiven);

                using var pipeline = inputs.Load();
                options = PipelineInputs.ForPipeline(pipeline, options, modelGiven);

                Console.Error.WriteLine($"Prompt: {text}");
                Console.Error.WriteLine($"Seed: {runSeed}   Model: {options.Model}   Basis: {options.BasisIterations}×{options.SamplesPerIteration} → top {options.TopK}   Steps: {options.Steps} × {options.Augmentations} augmentations   {inputs.RuntimeSummary(pipeline)}");
                var bar = new ProgressLine(Console.Error);
                var result = await pipeline.RunAsync(new GenerationRequest(text, runSeed, options), bar, paths.PreviewWriter("step"), cancellationToken);
                bar.Finish();

                await paths.WriteImagesAsync(result.Png, null, cancellationToken);
                var trace = new ScoreTrace
                {
                    Prompt = text,
                    Seed = runSeed,
                    Options = options,
                    BasisScores = result.BasisScores.Select(s => (double)s).ToArray(),
                    BasisAugClip = result.BasisAugClip,
                    Points = result.Trace,
                    FinalAugClip = result.AugClipScore,
                    FinalPromptAugClip = result.PromptScores,
                    StepsRun = result.StepsRun,
                    StopReason = result.StopReason,
                    ResultStep = result.ResultStep,
                };
                await paths.WriteTraceAsync(trace.ToJson(), result.Trace, text, cancellationToken);
                if (result.StopReason == StopReasons.Flat)
                    Console.WriteLine($"Stopped after {result.StepsRun} of {options.Steps} steps: AugCLIP did not improve by more than {options.MinImprovement.ToString("G", CultureInfo.InvariantCulture)} over {options.Patience} measurements.");
                Console.WriteLine($"AugCLIP score: {result.AugClipScore.ToString("0.0000", CultureInfo.InvariantCulture)} (latent of step {result.ResultStep})");
                paths.Print(Console.Out, options.PreviewEvery > 0);
                return 0;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine();
                Console.Error.WriteLine("Cancelled.");
                return 130;
            }
            catch (Exception ex) when (ex is ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or NotSupportedException)
            {
                Console.Error.WriteLine();
                Console.Error.WriteLine($"error: {ex.Message}");
                return ex is ArgumentException and not PromptTooLongException ? 2 : 1;
            }
        });
        return command;
    }

    /// <summary>
    /// The prompt to show and, when the run is weighted (several prompts, a weight, or a
    /// negative), the weighted prompts; one plain prompt runs as it always has.
    /// </summary>
    public static (string Text, ValueList<WeightedPrompt>? Weighted) Prompts(string? argument, string[] prompts, string[] negatives)
    {
        var all = new List<WeightedPrompt>();
        if (!string.IsNullOrWhiteSpace(argument)) all.Add(new WeightedPrompt(argument.Trim(), 1.0));
        all.AddRange(prompts.Select(WeightedPrompts.Parse));
        all.AddRange(negatives.Select(n => new WeightedPrompt(n.Trim(), WeightedPrompts.NegativeWeight)));
        if (all.Count == 0)
            throw new ArgumentException("no prompt: give it as the first argument or with --prompt, e.g. generate \"a photo of a cute corgi\"");
        if (all.Count == 1 && all[0].Weight == 1.0 && negatives.Length == 0)
        {
            if (string.IsNullOrWhiteSpace(all[0].Text))
                throw new ArgumentException("no prompt: give it as the first argument or with --prompt, e.g. generate \"a photo of a cute corgi\"");
            return (all[0].Text, null);
        }
        var errors = WeightedPrompts.Validate(all);
        if (errors.Count > 0)
            throw new ArgumentException("invalid prompts (--prompt \"text:weight\", --negative \"text\"): " +
                string.Join("; ", errors.Select(e => $"{e.Field}: {e.Reason}")));
        return (WeightedPrompts.Format(all), new ValueList<WeightedPrompt>(all));
    }
}

/// <summary>A one-line progress bar on a terminal (redrawn in place); a line every few seconds when redirected.</summary>
public sealed class ProgressLine(TextWriter writer) : IProgress<GenerationProgress>
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private DateTime _lastWrite = DateTime.MinValue;
    private GenerationPhase? _lastPhase;
    private int? _lastComponent;

    public void Report(GenerationProgress p)
    {
        var now = DateTime.UtcNow;
        var phaseChanged = p.Phase != _lastPhase || p.Component != _lastComponent;
        _lastComponent = p.Component;
        var interval = _interactive ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(5);
        if (!phaseChanged && now - _lastWrite < interval && p.Step != p.Total) return;
        if (phaseChanged && _lastPhase is not null && _interactive) writer.WriteLine();
        _lastPhase = p.Phase;
        _lastWrite = now;
        var line = Format(p);
        if (_interactive) writer.Write("\r" + line.PadRight(Console.IsErrorRedirected ? 0 : Math.Max(0, SafeWidth() - 1)));
        else writer.WriteLine(line);
    }

    public void Finish()
    {
        if (_interactive) writer.WriteLine();
    }

    public static string Format(GenerationProgress p)
    {
        const int width = 24;
        var fraction = p.Total > 0 ? Math.Clamp((double)p.Step / p.Total, 0, 1) : 0;
        var filled = (int)Math.Round(fraction * width);
        var bar = new string('#', filled) + new string('-', width - filled);
        var score = p.AugClip is { } s ? $"  AugCLIP {s.ToString("0.0000", CultureInfo.InvariantCulture)}" : "";
        var eta = p.Eta is { } e ? $"  ETA {Clock(e)}" : "";
        var phase = Phase(p.Phase) + (p.Component is { } c ? $" {c}/{p.Components}" : "");
        var rate = p.Phase == GenerationPhase.BasisSearch && p.Rate is { } r ? $"  {r.ToString("0.00", CultureInfo.InvariantCulture)} samples/s" : "";
        return $"{phase,-12} [{bar}] {p.Step}/{p.Total}{score}{rate}  elapsed {Clock(p.Elapsed)}{eta}";
    }

    private static string Phase(GenerationPhase phase) => phase switch
    {
        GenerationPhase.BasisSearch => "basis search",
        GenerationPhase.Optimizing => "optimising",
        GenerationPhase.Fusion => "fusion",
        _ => phase.ToString().ToLowerInvariant(),
    };

    private static string Clock(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);

    private static int SafeWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 100; }
        catch (IOException) { return 100; }
    }
}
