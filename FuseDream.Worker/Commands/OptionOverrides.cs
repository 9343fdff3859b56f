using System.CommandLine;
using FuseDream.Generation;

namespace FuseDream.Worker.Commands;

/// <summary>One command-line option per generation option; only the ones given override the preset.</summary>
internal sealed class OptionOverrides
{
    public Option<string?> Model { get; } = new("--model") { Description = $"Generator: {string.Join(", ", GenerationOptions.Models.All)} (default: the one loaded)." };
    private readonly Option<int?> _basisIterations = new("--basis-iterations") { Description = Range("Rounds of random basis search", GenerationOptions.Limits.BasisIterations) };
    private readonly Option<int?> _samples = new("--samples-per-iteration") { Description = Range("Samples scored per round", GenerationOptions.Limits.SamplesPerIteration) };
    private readonly Option<int?> _topK = new("--top-k") { Description = Range("Basis size", GenerationOptions.Limits.TopK) };
    private readonly Option<int?> _steps = new("--steps") { Description = Range("Optimisation steps", GenerationOptions.Limits.Steps) };
    private readonly Option<int?> _augmentations = new("--augmentations") { Description = Range("DiffAugment copies per step", GenerationOptions.Limits.Augmentations) };
    private readonly Option<double?> _learningRate = new("--lr") { Description = "Adam learning rate (1e-6 … 1)." };
    private readonly Option<bool?> _latentNoise = new("--latent-noise") { Description = "Add N(0, 0.01²) latent noise each step (true/false)." };
    private readonly Option<bool?> _optimizeY = new("--optimize-y") { Description = "Optimise the class-embedding basis too (true/false)." };
    private readonly Option<int?> _scoreEvery = new("--score-every") { Description = Range("Measure AugCLIP every N steps (0: end only)", GenerationOptions.Limits.ScoreEvery) };
    private readonly Option<int?> _previewEvery = new("--preview-every") { Description = Range("Write a preview every N steps (0: none)", GenerationOptions.Limits.PreviewEvery) };
    private readonly Option<int?> _finalAugmentations = new("--final-augmentations") { Description = Range("Augmentations of the final AugCLIP measurement", GenerationOptions.Limits.FinalAugmentations) };

    private readonly Option<string?> _init = new("--init") { Description = $"How the softmax weights start: {string.Join(", ", LatentInit.All)}." };
    private readonly Option<bool?> _keepBest = new("--keep-best") { Description = "Return the best measured latent rather than the last step's (true/false)." };
    private readonly Option<int?> _patience = new("--patience") { Description = Range("Stop after N measurements without improvement (0: run every step)", GenerationOptions.Limits.Patience) };
    private readonly Option<double?> _minImprovement = new("--min-improvement") { Description = $"AugCLIP gain that counts as an improvement for --patience ({GenerationOptions.Limits.MinImprovement.Min} … {GenerationOptions.Limits.MinImprovement.Max})." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Model, _basisIterations, _samples, _topK, _steps, _augmentations, _learningRate, _latentNoise, _optimizeY, _scoreEvery, _previewEvery, _finalAugmentations, _init, _keepBest, _patience, _minImprovement })
            command.Options.Add(option);
    }

    public GenerationOptions Apply(GenerationOptions o, ParseResult parse) => o.With(new GenerationOverrides
    {
        BasisIterations = parse.GetValue(_basisIterations),
        SamplesPerIteration = parse.GetValue(_samples),
        TopK = parse.GetValue(_topK),
        Steps = parse.GetValue(_steps),
        Augmentations = parse.GetValue(_augmentations),
        LearningRate = parse.GetValue(_learningRate),
        LatentNoise = parse.GetValue(_latentNoise),
        OptimizeY = parse.GetValue(_optimizeY),
        ScoreEvery = parse.GetValue(_scoreEvery),
        FinalAugmentations = parse.GetValue(_finalAugmentations),
        Init = parse.GetValue(_init),
        KeepBest = parse.GetValue(_keepBest),
        Patience = parse.GetValue(_patience),
        MinImprovement = parse.GetValue(_minImprovement),
    }) with
    {
        Model = parse.GetValue(Model) ?? o.Model,
        PreviewEvery = parse.GetValue(_previewEvery) ?? o.PreviewEvery,
    };

    private static string Range(string what, (int Min, int Max) range) => $"{what} ({range.Min} … {range.Max}).";
}
