using FuseDream.BigGan;
using FuseDream.Checkpoints;
using FuseDream.Clip;
using FuseDream.Composition;
using FuseDream.Generation;
using FuseDream.Tests.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Composition;

/// <summary>
/// The fixtures' tiny CLIP and BigGAN-512 (through <see cref="TinyPipeline"/>), plus float64
/// copies of both for gradient checks, and the pieces a fusion is built from.
/// </summary>
public sealed class TinySceneModels : IDisposable
{
    public TinySceneModels()
    {
        Tiny = new TinyPipeline();
        Clip64 = ClipCheckpoint.Load(Tiny.ClipPath);
        Clip64.to(float64);
        Generator64 = BigGanCheckpoint.Load(Tiny.GeneratorPath);
        Generator64.to(float64);
        foreach (var module in new nn.Module[] { Clip64, Generator64 })
        {
            module.eval();
            foreach (var p in module.parameters()) p.requires_grad = false;
        }
    }

    public TinyPipeline Tiny { get; }
    public ClipModel Clip64 { get; }
    public BigGanGenerator Generator64 { get; }

    public static readonly IReadOnlyList<SceneComponent> DogOnTheMoon =
    [
        new("the surface of the moon"),
        new("a dog", new SceneBox(0.3, 0.35, 0.75, 0.95)),
    ];

    public static readonly IReadOnlyList<SceneComponent> ThreeParts =
    [
        new("a snowy forest"),
        new("a red bus", new SceneBox(0.1, 0.5, 0.6, 0.9), 0.1),
        new("a bird", new SceneBox(0.6, 0.05, 0.9, 0.35)),
    ];

    /// <summary>Random over-parameterised latents (k = 2 basis rows) for each component, in the generator's dtype.</summary>
    public static List<Tensor[]> RandomLatents(BigGanGenerator generator, int components, long seed)
    {
        using var random = new Generator((ulong)seed);
        var dtype = generator.parameters().First().dtype;
        var latents = new List<Tensor[]>();
        for (var i = 0; i < components; i++)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var classes = tensor(new long[] { 3 * i + 1, 3 * i + 2 });
            Tensor[] parts =
            [
                randn([2, generator.DimZ], generator: random).to(dtype),
                randn([2, generator.EmbeddingDim], generator: random).to(dtype),
                randn([2, generator.DimZ], generator: random).clamp(-2, 2).to(dtype),
                generator.ClassEmbedding(classes).detach().to(dtype),
            ];
            latents.Add([.. parts.Select(t => t.MoveToOuterDisposeScope())]);
        }
        return latents;
    }

    /// <summary>A fusion over <paramref name="components"/> with random latents (caller disposes both).</summary>
    internal static (SceneFusion Fusion, List<AugClipScorer> Scorers) Fusion(ClipModel clip, BigGanGenerator generator, string scene,
        IReadOnlyList<SceneComponent> components, CompositionOptions options, long seed)
    {
        var scorers = new List<AugClipScorer> { AugClipScorer.ForPrompt(clip, scene, CPU) };
        scorers.AddRange(components.Select(c => AugClipScorer.ForPrompt(clip, c.Prompt, CPU)));
        var latents = RandomLatents(generator, components.Count, seed);
        try
        {
            var fusion = new SceneFusion(generator, clip, scorers[0], scorers.Skip(1).ToList(), components, latents, options);
            return (fusion, scorers);
        }
        finally
        {
            foreach (var t in latents.SelectMany(l => l)) t.Dispose();
        }
    }

    public void Dispose()
    {
        Clip64.Dispose();
        Generator64.Dispose();
        Tiny.Dispose();
    }
}
