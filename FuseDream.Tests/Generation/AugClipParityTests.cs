using System.Text.RegularExpressions;
using FuseDream.Generation;
using FuseDream.Text;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>The CLIP scores against the original's <c>NaiveSemanticLoss</c> and <c>AugmentLoss</c> (every set under Fixtures/fusedream).</summary>
public class AugClipParityTests
{
    public static TheoryData<string> Sets => FuseDreamFixtureSet.All();

    [Theory]
    [MemberData(nameof(Sets))]
    public void PlainScore_LossInputAndGradient_MatchNaiveSemanticLoss(string descriptor)
    {
        using var set = new FuseDreamFixtureSet(descriptor);
        using var clip = set.LoadClip();
        using var scorer = AugClipScorer.ForTokens(clip, set.TextTokens, CPU);
        using var scope = NewDisposeScope();
        var naive = set.Root.GetProperty("naive").GetProperty("tolerances");
        var img = set.InputImage.requires_grad_();

        var (ia, ir) = FuseDreamFixtureSet.Tolerance(naive.GetProperty("naive.clip_input.*"));
        set.CompareViews("naive.clip_input", scorer.ClipInput(img.detach()), ia, ir);

        var cosine = scorer.Cosine(img); // [1]
        var loss = -cosine;
        var (la, lr) = FuseDreamFixtureSet.Tolerance(naive.GetProperty("naive.loss"));
        TensorAssert.Close(set.Reference["naive.loss"], loss, la, lr, "naive.loss");
        var (ga, gr) = FuseDreamFixtureSet.Tolerance(naive.GetProperty("naive.logits_per_image"));
        TensorAssert.Close(set.Reference["naive.logits_per_image"], (cosine * clip.LogitScaleExp).view(1, 1), ga, gr, "naive.logits_per_image");

        loss.sum().backward();
        var (da, dr) = FuseDreamFixtureSet.Tolerance(naive.GetProperty("naive.grad_img.*"));
        set.CompareViews("naive.grad_img", img.grad!, da, dr);
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void AugmentedScore_WithRecordedDraws_MatchesAugmentLoss(string descriptor)
    {
        using var set = new FuseDreamFixtureSet(descriptor);
        using var clip = set.LoadClip();
        using var scorer = AugClipScorer.ForTokens(clip, set.TextTokens, CPU);
        using var scope = NewDisposeScope();
        var augment = set.Root.GetProperty("augment");
        var tolerances = augment.GetProperty("tolerances");
        var replicate = (int)set.Reference["augment.logits_per_image"].shape[0];
        var img = set.InputImage.requires_grad_();

        // The policy the original was called with, as the descriptor records it.
        var call = augment.GetProperty("call").GetString()!;
        var policyArgument = Regex.Match(call, @"policy='([^']*)'");
        Assert.True(policyArgument.Success, $"no policy='…' in '{call}'");
        var policy = AugmentPolicy.Parse(policyArgument.Groups[1].Value);

        var draws = RecordedRandomSource.FromFixture(augment.GetProperty("draws"), set.Reference);
        var cosine = scorer.AugmentedCosine(img, replicate, draws, policy); // [replicate]
        Assert.Equal(0, draws.Remaining);
        var loss = -cosine.mean();
        var (la, lr) = FuseDreamFixtureSet.Tolerance(tolerances.GetProperty("augment.loss"));
        TensorAssert.Close(set.Reference["augment.loss"], loss.view(1), la, lr, "augment.loss");
        var (ga, gr) = FuseDreamFixtureSet.Tolerance(tolerances.GetProperty("augment.logits_per_image"));
        TensorAssert.Close(set.Reference["augment.logits_per_image"], (cosine * clip.LogitScaleExp).view(replicate, 1), ga, gr, "augment.logits_per_image");

        loss.backward();
        var (da, dr) = FuseDreamFixtureSet.Tolerance(tolerances.GetProperty("augment.grad_img.*"));
        set.CompareViews("augment.grad_img", img.grad!, da, dr);

        // The CLIP input of the augmented copies, replaying the same draws.
        var again = RecordedRandomSource.FromFixture(augment.GetProperty("draws"), set.Reference);
        var augmented = DiffAugment.Apply(img.detach().expand(replicate, -1, -1, -1), policy, again);
        var (ia, ir) = FuseDreamFixtureSet.Tolerance(tolerances.GetProperty("augment.clip_input.*"));
        set.CompareViews("augment.clip_input", scorer.ClipInput(augmented), ia, ir);
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void Prompt_TokenizesToTheFixtureTokens(string descriptor)
    {
        using var set = new FuseDreamFixtureSet(descriptor);
        var text = set.Root.GetProperty("text").GetString()!;
        Assert.Equal(set.TextTokens, ClipTokenizer.Default.Tokenize(text).Ids);
    }

    [Fact]
    public void MeasureAugClip_IsTheMeanAugmentedCosine_AndDeterministicPerSeed()
    {
        var descriptor = Path.GetRelativePath(FixtureSets.Root, FixtureSets.Find(FuseDreamFixtureSet.Group, FuseDreamFixtureSet.Descriptor)[0]);
        using var set = new FuseDreamFixtureSet(descriptor);
        using var clip = set.LoadClip();
        using var scorer = AugClipScorer.ForTokens(clip, set.TextTokens, CPU);
        using var scope = NewDisposeScope();
        var img = set.InputImage;
        using var first = new TorchRandomSource(3);
        using var second = new TorchRandomSource(3);
        using var manual = new TorchRandomSource(3);
        using var other = new TorchRandomSource(4);
        var measured = scorer.MeasureAugClip(img, 6, first, batchSize: 4);
        Assert.Equal(measured, scorer.MeasureAugClip(img, 6, second, batchSize: 4));
        // Another seed draws other augmentations, so another score: the measurement does use its source.
        Assert.NotEqual(measured, scorer.MeasureAugClip(img, 6, other, batchSize: 4));
        double expected;
        using (no_grad())
            expected = (scorer.AugmentedCosine(img, 4, manual).sum().item<float>() + scorer.AugmentedCosine(img, 2, manual).sum().item<float>()) / 6.0;
        Assert.Equal(expected, measured, 6);
        Assert.InRange(measured, -1, 1);
    }
}
