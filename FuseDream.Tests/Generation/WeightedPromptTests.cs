using FuseDream.Generation;
using FuseDream.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>
/// Weighted and negative prompts: the objective Σ wᵢ · cosᵢ / Σ_{w&gt;0} w and its gradient
/// against the same sum worked out by hand from one scorer per prompt, on the fixtures' CLIP;
/// the per-prompt measurement; and the effect of a negative prompt on whole runs.
/// </summary>
public class WeightedPromptTests(TinyPipeline tiny, ITestOutputHelper output) : IClassFixture<TinyPipeline>
{
    private static readonly WeightedPrompt[] Prompts =
    [
        new("a red bus", 2.0),
        new("a blurry photo", -1.0),
        new("a green field", 1.0),
    ];

    [Fact]
    public void NormalisedWeights_DivideByTheSumOfThePositiveWeights()
    {
        // 2 + 1 = 3 is the positive sum; the negative weight is divided by it too.
        Assert.Equal([2.0 / 3, -1.0 / 3, 1.0 / 3], WeightedPrompts.NormalisedWeights(Prompts));
        Assert.Equal([1.0], WeightedPrompts.NormalisedWeights([new("a dog", 4.0)]));
        Assert.Equal(2.0 / 3 * 0.3 - 1.0 / 3 * 0.6 + 1.0 / 3 * 0.9, WeightedPrompts.Combine(Prompts, [0.3, 0.6, 0.9]), 12);
    }

    [Fact]
    public void WeightedCosine_AndItsGradient_AreTheHandWeightedSumOfEachPromptsOwn()
    {
        using var scope = NewDisposeScope();
        using var image = ImageLeaf(seed: 5);
        using var weighted = AugClipScorer.ForPrompts([(tiny.Clip, 1.0)], Prompts, CPU);
        var score = weighted.Cosine(image); // [1]
        score.sum().backward();
        var weightedGrad = image.grad!.clone();

        var factors = new[] { 2.0 / 3, -1.0 / 3, 1.0 / 3 };
        var expectedScore = 0.0;
        var expectedGrad = zeros_like(image);
        for (var i = 0; i < Prompts.Length; i++)
        {
            image.grad!.zero_();
            using var single = AugClipScorer.ForPrompt(tiny.Clip, Prompts[i].Text, CPU);
            var cosine = single.Cosine(image);
            cosine.sum().backward();
            expectedScore += factors[i] * cosine.item<float>();
            expectedGrad += factors[i] * image.grad!;
        }
        Assert.Equal(expectedScore, score.item<float>(), 5);
        Assert.True(expectedGrad.abs().max().item<float>() > 0, "the hand gradient is zero: nothing is compared");
        TensorAssert.CloseRelativeToMax(expectedGrad, weightedGrad, 1e-4, "d score / d image");

        // Each prompt's cosine, as PromptCosines reports it, is the single scorer's.
        var perPrompt = weighted.PromptCosines(image.detach()); // [1, 3]
        for (var i = 0; i < Prompts.Length; i++)
        {
            using var single = AugClipScorer.ForPrompt(tiny.Clip, Prompts[i].Text, CPU);
            Assert.Equal(single.Cosine(image.detach()).item<float>(), perPrompt[0, i].item<float>(), 5);
        }
    }

    [Fact]
    public void AugmentedLoss_WithTheSameDraws_IsTheHandWeightedSumOfEachPromptsLoss_AndSoIsItsGradient()
    {
        using var scope = NewDisposeScope();
        using var image = ImageLeaf(seed: 6);
        using var weighted = AugClipScorer.ForPrompts([(tiny.Clip, 1.0)], Prompts, CPU);
        double loss;
        using (var random = new TorchRandomSource(21))
            loss = weighted.AugmentedLossBackward(image, 3, random, batchSize: 2);
        var weightedGrad = image.grad!.clone();

        var factors = new[] { 2.0 / 3, -1.0 / 3, 1.0 / 3 };
        var expectedLoss = 0.0;
        var expectedGrad = zeros_like(image);
        for (var i = 0; i < Prompts.Length; i++)
        {
            image.grad!.zero_();
            using var single = AugClipScorer.ForPrompt(tiny.Clip, Prompts[i].Text, CPU);
            using var random = new TorchRandomSource(21); // the same augmentations for every prompt
            expectedLoss += factors[i] * single.AugmentedLossBackward(image, 3, random, batchSize: 2);
            expectedGrad += factors[i] * image.grad!;
        }
        Assert.Equal(expectedLoss, loss, 5);
        TensorAssert.CloseRelativeToMax(expectedGrad, weightedGrad, 1e-4, "d loss / d image");
    }

    [Fact]
    public void MeasurePrompts_GivesEachPromptsAugClip_AndTheirWeightedSum()
    {
        using var scope = NewDisposeScope();
        using var image = ImageLeaf(seed: 7);
        using var weighted = AugClipScorer.ForPrompts([(tiny.Clip, 1.0)], Prompts, CPU);
        (double Score, double[] PerPrompt) measured;
        using (var random = new TorchRandomSource(33))
            measured = weighted.MeasurePrompts(image.detach(), 5, random, batchSize: 2);
        for (var i = 0; i < Prompts.Length; i++)
        {
            using var single = AugClipScorer.ForPrompt(tiny.Clip, Prompts[i].Text, CPU);
            using var random = new TorchRandomSource(33);
            Assert.Equal(single.MeasureAugClip(image.detach(), 5, random, batchSize: 2), measured.PerPrompt[i], 5);
        }
        Assert.Equal(WeightedPrompts.Combine(Prompts, measured.PerPrompt), measured.Score, 12);
        using (var random = new TorchRandomSource(33))
            Assert.Equal(measured.Score, weighted.MeasureAugClip(image.detach(), 5, random, batchSize: 2), 12);
    }

    [Fact]
    public void OnePromptOfAnyPositiveWeight_ScoresExactlyAsThePlainPrompt()
    {
        using var scope = NewDisposeScope();
        using var image = ImageLeaf(seed: 8);
        using var plain = AugClipScorer.ForPrompt(tiny.Clip, "a red bus", CPU);
        using var weighted = AugClipScorer.ForPrompts([(tiny.Clip, 1.0)], [new("a red bus", 3.5)], CPU);
        Assert.Equal(plain.Cosine(image.detach()).item<float>(), weighted.Cosine(image.detach()).item<float>());
    }

    /// <summary>
    /// A negative prompt pushes the image away from its text: over several seeds, each run
    /// paired with the same run without it, that text's AugCLIP (measured on both images with
    /// the same augmentations) is lower on average with it.
    /// </summary>
    [Fact]
    public async Task NegativePrompt_LowersThatPromptsScore_OnAverageOverSeeds()
    {
        const string positive = "a photo of a cute corgi";
        const string negative = "a red double-decker bus";
        var options = TinyPipeline.Options(steps: 6) with { LearningRate = 0.05, ScoreEvery = 0 };
        using var judge = AugClipScorer.ForPrompt(tiny.Clip, negative, CPU);
        var differences = new List<double>();
        // Each pair is deterministic on the CPU; four seeds keep the test to eight short runs.
        foreach (var seed in new long[] { 1, 2, 3, 4 })
        {
            var without = await tiny.Pipeline.RunAsync(new GenerationRequest(positive, seed, options), null, null, CancellationToken.None);
            var withNegative = await tiny.Pipeline.RunAsync(new GenerationRequest(positive, seed, options with
            {
                Prompts = new([new(positive, 1.0), new(negative, -1.0)]),
            }), null, null, CancellationToken.None);
            Assert.Equal(2, withNegative.PromptScores!.Count);
            differences.Add(NegativeScore(withNegative) - NegativeScore(without));
        }
        output.WriteLine($"with − without, per seed: {string.Join(", ", differences.Select(d => d.ToString("0.00000")))}; mean {differences.Average():0.00000}");
        Assert.True(differences.Average() < 0,
            $"the negative prompt's AugCLIP should drop on average; differences (with − without): {string.Join(", ", differences.Select(d => d.ToString("0.00000")))}");

        double NegativeScore(GenerationResult result)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var z = tensor(result.FinalZ).view(1, -1);
            var y = tensor(result.FinalY).view(1, -1);
            var image = tiny.Generator.Generate(z, y);
            using var random = new TorchRandomSource(99); // the same augmentations for both images of a pair
            return judge.MeasureAugClip(image, 16, random, batchSize: 8);
        }
    }

    private Tensor ImageLeaf(int seed)
    {
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        using var scope = NewDisposeScope();
        return (rand([1, 3, 48, 48], generator: generator) * 2 - 1).requires_grad_(true).MoveToOuterDisposeScope();
    }
}
