using FuseDream.BigGan;
using FuseDream.Clip;
using FuseDream.Generation;
using FuseDream.Tests.BigGan;
using FuseDream.Tests.Support;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Tests.Generation;

/// <summary>
/// The pipeline over the fixtures' tiny CLIP and BigGAN-512, with options small enough for
/// tests. The 512 model is the cheaper one to run: its self-attention sits at 64×64, the
/// 256 model's at 128×128.
/// </summary>
public sealed class TinyPipeline : IDisposable
{
    public TinyPipeline()
    {
        var set = FixtureSets.Find(FuseDreamFixtureSet.Group, FuseDreamFixtureSet.Descriptor)[0];
        using var fixture = new FuseDreamFixtureSet(Path.GetRelativePath(FixtureSets.Root, set));
        ClipPath = fixture.ClipPath;
        // The 512 generator of the BigGAN set the fusedream set's 256 generator belongs to,
        // under whatever name that set's descriptor gives it.
        var bigGanDescriptor = Path.Combine(Path.GetDirectoryName(fixture.GeneratorPath)!, BigGanFixtureSet.Descriptor);
        using (var bigGan = new BigGanFixtureSet(Path.GetRelativePath(FixtureSets.Root, bigGanDescriptor), "512"))
            GeneratorPath = bigGan.WeightsPath;
        Clip = ClipCheckpoint.Load(ClipPath);
        Generator = BigGanCheckpoint.Load(GeneratorPath);
        // fp32 pinned: the tests built on it compare with fp32 results and the parity fixtures.
        Pipeline = new FuseDreamPipeline(Clip, [Generator], CPU, tuning: new PipelineTuning { BasisBatchSize = 4, MeasureBatchSize = 8 }, precision: FuseDream.Models.Precision.Fp32);
    }

    public string ClipPath { get; }
    public string GeneratorPath { get; }
    public ClipModel Clip { get; }
    public BigGanGenerator Generator { get; }
    public FuseDreamPipeline Pipeline { get; }

    public static GenerationOptions Options(int steps = 4) => new()
    {
        Model = GenerationOptions.Models.BigGan512,
        BasisIterations = 2,
        SamplesPerIteration = 2,
        TopK = 2,
        Steps = steps,
        Augmentations = 2,
        ScoreEvery = 2,
        FinalAugmentations = 4,
    };

    public void Dispose()
    {
        Pipeline.Dispose();
        Clip.Dispose();
        Generator.Dispose();
    }
}
