using FuseDream.Models;

namespace FuseDream.Generation;

/// <summary>Where the models are and how to run them (hardware knobs that do not change what is computed).</summary>
public sealed record FuseDreamPipelineSettings
{
    /// <summary>CLIP checkpoint (OpenAI TorchScript <c>.pt</c>, <c>torch.save</c> state dict or safetensors).</summary>
    public required ModelFile Clip { get; init; }

    /// <summary>
    /// Further CLIP checkpoints a request may name in <see cref="GenerationOptions.Clips"/> (each
    /// known by <see cref="Clip.ClipModelIds"/>); <see cref="Clip"/> stays the default.
    /// </summary>
    public IReadOnlyList<ModelFile> ExtraClips { get; init; } = [];

    /// <summary>BigGAN generator checkpoints; each is offered as <c>biggan-&lt;resolution&gt;</c>.</summary>
    public required IReadOnlyList<ModelFile> BigGans { get; init; }

    /// <summary><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (see <see cref="DeviceSelector"/>).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// <c>auto</c> (the device's default: bf16 on CUDA and on a CPU with native bf16, else fp32), <c>fp32</c> or <c>bf16</c>
    /// (see <see cref="ModelPrecision"/>). bf16 changes the numbers slightly; fp32 is exact.
    /// </summary>
    public string Precision { get; init; } = ModelPrecision.Auto;

    public PipelineTuning Tuning { get; init; } = new();
}

/// <summary>Batch sizes: speed and memory only. Results are reproducible for a given tuning and device.</summary>
public sealed record PipelineTuning
{
    /// <summary><see cref="BasisBatchSize"/>'s default: the pipeline chooses it from the device's memory (<see cref="BasisBatchSizing"/>).</summary>
    public const int ChooseFromMemory = 0;

    /// <summary>
    /// Basis samples rendered and scored per batch (independent of the sample count: the same
    /// samples in the same order whatever it is); <see cref="ChooseFromMemory"/> (0, the default)
    /// lets the pipeline choose it from the memory available when it is built.
    /// </summary>
    public int BasisBatchSize { get; init; } = ChooseFromMemory;

    /// <summary>The share of the device's available memory a chosen basis batch may count on (worker threads on one CPU split it).</summary>
    public double BasisMemoryShare { get; init; } = 1.0;

    /// <summary>Augmented copies scored per batch when measuring AugCLIP.</summary>
    public int MeasureBatchSize { get; init; } = 50;

    /// <summary>
    /// Resize with libtorch's fused bilinear kernel instead of the exact hand-written one (CLIP's
    /// input and the resize augmentation): faster, outputs within a few 1e-6 of the exact path.
    /// Off by default, so results stay those the parity tests pin.
    /// </summary>
    public bool FusedResize { get; init; }
}
