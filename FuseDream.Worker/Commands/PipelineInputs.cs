using FuseDream.Generation;
using FuseDream.Models;
using TorchSharp;

namespace FuseDream.Worker.Commands;

/// <summary>
/// What <c>generate</c> loads, for a single prompt and a composed scene alike: the resolved model
/// files, the device, the precision and the tuning; and the checks and header both runs share.
/// </summary>
internal sealed record PipelineInputs((ModelFile Clip, ModelFile Generator) Models, string DeviceName, PrecisionChoice Precision, PipelineTuning Tuning)
{
    /// <summary>Loads the models (saying so on standard error first).</summary>
    public FuseDreamPipeline Load()
    {
        Console.Error.WriteLine($"Loading {Models.Clip} and {Models.Generator} on {DeviceName}…");
        return FuseDreamPipeline.Load(new FuseDreamPipelineSettings
        {
            Clip = Models.Clip,
            BigGans = [Models.Generator],
            Device = DeviceName,
            Precision = ModelPrecision.Name(Precision.Precision),
            Tuning = Tuning,
        });
    }

    /// <summary>
    /// Fails fast, before the models load, on every problem in <paramref name="errors"/>; the model
    /// id is not checked unless <c>--model</c> was given (it is settled once the models have loaded).
    /// </summary>
    public static void CheckBeforeLoading(IEnumerable<OptionError> errors, bool modelGiven)
    {
        var problems = errors.Where(e => modelGiven || e.Field != nameof(GenerationOptions.Model)).ToList();
        if (problems.Count > 0)
            throw new ArgumentException("invalid options: " + string.Join("; ", problems.Select(e => $"{e.Field}: {e.Reason}")));
    }

    /// <summary>
    /// <paramref name="options"/> for the loaded <paramref name="pipeline"/>: without <c>--model</c>,
    /// the pipeline's first model when it did not load the preset's; then validated.
    /// </summary>
    public static GenerationOptions ForPipeline(FuseDreamPipeline pipeline, GenerationOptions options, bool modelGiven)
    {
        if (!modelGiven && !pipeline.Models.Contains(options.Model))
            options = options with { Model = pipeline.Models[0] };
        return options.EnsureValid();
    }

    /// <summary>
    /// The end of every run's header line: libtorch's threads, the precision the models run at and
    /// why (what <c>auto</c> resolved to), and the basis batch size and why.
    /// </summary>
    public string RuntimeSummary(FuseDreamPipeline pipeline) =>
        $"Threads: {torch.get_num_threads()}   Precision: {Precision}   Basis batch: {pipeline.BasisBatch}";
}
