namespace FuseDream.Generation;

/// <summary>What to generate: the prompt, the seed and the options.</summary>
public sealed record GenerationRequest(string Prompt, long Seed, GenerationOptions Options)
{
    /// <summary>What is scored: the options' weighted prompts, or the prompt at weight 1.</summary>
    public IReadOnlyList<WeightedPrompt> ScoredPrompts => Options?.Prompts ?? (IReadOnlyList<WeightedPrompt>)[new WeightedPrompt(Prompt, 1.0)];
}

/// <summary>Phases of one run, in order.</summary>
public enum GenerationPhase
{
    Loading,
    BasisSearch,
    Optimizing,

    /// <summary>A composed generation's stage 2: the bi-level fusion of its components (after each component's basis search and optimisation).</summary>
    Fusion,
    Scoring,
    Finished,
}

/// <summary>A progress event. <c>AugClip</c> is the latest measured score, when there is one.</summary>
public sealed record GenerationProgress(
    GenerationPhase Phase,
    int Step,
    int Total,
    double? AugClip,
    TimeSpan Elapsed,
    TimeSpan? Eta)
{
    /// <summary>In a composed generation's stage 1: which component (from 1) the phase is running for.</summary>
    public int? Component { get; init; }

    /// <summary>The phase's rate so far, per second: basis samples scored, or optimisation steps taken.</summary>
    public double? Rate { get; init; }

    /// <summary>In a composed generation: how many components the scene has.</summary>
    public int? Components { get; init; }
}

/// <summary>
/// One point of the score trace: the loss of every step, AugCLIP where it was measured (the
/// weighted score with several prompts) and, with several prompts, each prompt's AugCLIP in
/// the options' order.
/// </summary>
public sealed record TracePoint(int Step, double Loss, double? AugClip)
{
    public ValueList<double>? PromptAugClip { get; init; }
}

/// <summary>A preview written during optimisation.</summary>
public sealed record GenerationPreview(int Step, byte[] Png);

/// <summary>The outcome of a run: the PNG (with embedded provenance), the final AugCLIP score, the trace.</summary>
public sealed record GenerationResult(
    byte[] Png,
    double AugClipScore,
    IReadOnlyList<TracePoint> Trace,
    long Seed,
    GenerationOptions Options,
    float[] FinalZ,
    float[] FinalY)
{
    /// <summary>Plain CLIP cosine of each basis sample, best first (empty when not reported).</summary>
    public IReadOnlyList<float> BasisScores { get; init; } = [];

    /// <summary>With several prompts, each one's final AugCLIP in the options' order (the score is their weighted sum).</summary>
    public IReadOnlyList<double>? PromptScores { get; init; }

    /// <summary>AugCLIP of the best basis sample before optimisation, when measured.</summary>
    public double? BasisAugClip { get; init; }

    /// <summary>What is embedded in the PNG, when the pipeline produced it.</summary>
    public ImageProvenance? Provenance { get; init; }

    /// <summary>Optimisation steps taken: the options' steps, or fewer when the run stopped early.</summary>
    public int StepsRun { get; init; }

    /// <summary>Why the optimisation ended (<see cref="StopReasons"/>).</summary>
    public string StopReason { get; init; } = StopReasons.Steps;

    /// <summary>The step whose latent the image is: the best measured one with KeepBest, else the last.</summary>
    public int ResultStep { get; init; }
}

/// <summary>Why an optimisation ended.</summary>
public static class StopReasons
{
    /// <summary>Every requested step ran.</summary>
    public const string Steps = "steps";

    /// <summary>The measured AugCLIP stopped improving (Patience, MinImprovement).</summary>
    public const string Flat = "flat";
}

/// <summary>
/// Runs one generation end to end. Implementations hold loaded models and are used by one
/// thread at a time (one per GPU). Cancellation is honoured within one optimisation step.
/// </summary>
public interface IGenerationPipeline
{
    /// <summary>Model ids this pipeline can run (e.g. <c>biggan-256</c>).</summary>
    IReadOnlyList<string> Models { get; }

    /// <summary>CLIP model ids a request may name in <see cref="GenerationOptions.Clips"/>, the default first (none: only the default, unnamed).</summary>
    IReadOnlyList<string> Clips => [];

    /// <summary>What the models compute in and why (e.g. bf16, because auto found avx512_bf16); null when the pipeline does not say.</summary>
    FuseDream.Models.PrecisionChoice? PrecisionUsed => null;

    Task<GenerationResult> RunAsync(
        GenerationRequest request,
        IProgress<GenerationProgress>? progress,
        Func<GenerationPreview, CancellationToken, Task>? onPreview,
        CancellationToken cancellationToken);
}
