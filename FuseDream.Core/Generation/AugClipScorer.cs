using FuseDream.Clip;
using FuseDream.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// The CLIP side of FuseDream: the text is encoded once and cached (the original re-encodes
/// it every step); images in [-1, 1] are mapped to [0, 1], resized bilinearly to CLIP's input
/// size (<c>align_corners=False</c>) and normalised, then scored by cosine similarity with the
/// text. <see cref="AugmentedCosine"/> is the AugCLIP objective of the paper (the original's
/// <c>AugmentLoss</c> is its negated mean), <see cref="Cosine"/> the plain score of
/// <c>NaiveSemanticLoss</c> and of the basis search. The scorer does not own the model.
/// </summary>
public sealed class AugClipScorer : IDisposable
{
    private readonly ClipModel _clip;
    private readonly Tensor _textFeatures; // [1, embed]

    /// <summary>Takes ownership of <paramref name="textFeatures"/> [1, embed] (or [embed]).</summary>
    public AugClipScorer(ClipModel clip, Tensor textFeatures)
    {
        ArgumentNullException.ThrowIfNull(clip);
        ArgumentNullException.ThrowIfNull(textFeatures);
        _clip = clip;
        using (NewDisposeScope())
            _textFeatures = (textFeatures.dim() == 1 ? textFeatures.unsqueeze(0) : textFeatures.alias()).detach().DetachFromDisposeScope();
        textFeatures.Dispose();
        Resolution = clip.InputResolution;
    }

    /// <summary>Tokenizes the prompt (throws <see cref="PromptTooLongException"/> beyond CLIP's 77 tokens) and encodes it once.</summary>
    public static AugClipScorer ForPrompt(ClipModel clip, string prompt, Device device)
    {
        ArgumentNullException.ThrowIfNull(clip);
        if (string.IsNullOrWhiteSpace(prompt))
            throw new ArgumentException("the prompt is empty; give a text describing the image", nameof(prompt));
        var tokens = ClipTokenizer.Default.Tokenize(prompt);
        return ForTokens(clip, tokens.Ids, device);
    }

    /// <summary>Encodes already tokenized text ([77] CLIP token ids).</summary>
    public static AugClipScorer ForTokens(ClipModel clip, long[] tokenIds, Device device)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = tensor(tokenIds, device: device).view(1, tokenIds.Length); // [1, 77]
        var features = clip.EncodeText(tokens).MoveToOuterDisposeScope(); // [1, embed]
        return new AugClipScorer(clip, features);
    }

    /// <summary>Resize with libtorch's fused kernel (<see cref="BilinearResize.ResizeFused"/>) instead of the exact path; off by default.</summary>
    public bool FusedResize { get; set; }

    /// <summary>CLIP's input size (224 for ViT-B/32).</summary>
    public int Resolution { get; }

    /// <summary>[-1, 1] images [batch, 3, H, W] → CLIP's normalised input [batch, 3, R, R].</summary>
    public Tensor ClipInput(Tensor images)
    {
        using var scope = NewDisposeScope();
        var in01 = (images + 1) / 2;
        var resized = FusedResize
            ? BilinearResize.ResizeFused(in01, Resolution, Resolution)
            : BilinearResize.Resize(in01, Resolution, Resolution); // [batch, 3, R, R]
        return ClipPreprocessing.Normalize(resized).MoveToOuterDisposeScope();
    }

    /// <summary>Cosine similarity of each image with the text: [batch]. Differentiable.</summary>
    public Tensor Cosine(Tensor images)
    {
        using var scope = NewDisposeScope();
        var features = _clip.EncodeImage(ClipInput(images)); // [batch, embed]
        var cosine = ClipModel.CosineSimilarity(features, _textFeatures.to(features.device)); // [batch, 1]
        return cosine.squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Cosine of <paramref name="replicate"/> DiffAugment copies of one image [1, 3, H, W] with
    /// the text: [replicate]. The mean is the AugCLIP score; its negation the original's loss.
    /// </summary>
    internal Tensor AugmentedCosine(Tensor image, int replicate, IRandomSource random, AugmentPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dim() != 4 || image.shape[0] != 1)
            throw new ArgumentException($"expected one image [1, 3, H, W], got shape [{string.Join(", ", image.shape)}]", nameof(image));
        ArgumentOutOfRangeException.ThrowIfLessThan(replicate, 1);
        using var scope = NewDisposeScope();
        var copies = image.expand(replicate, -1, -1, -1); // [replicate, 3, H, W]
        using var draws = DiffAugment.Draw(policy ?? AugmentPolicy.FuseDream, replicate, image.shape[2], image.shape[3], image.device, random);
        var augmented = DiffAugment.Apply(copies, draws, 0, FusedResize);
        return Cosine(augmented).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The AugCLIP loss of one image [1, 3, H, W] (the negated mean cosine of
    /// <paramref name="replicate"/> DiffAugment copies), with its gradient accumulated into
    /// whatever <paramref name="image"/> was computed from. The copies are drawn as one batch
    /// (the same draws as <see cref="AugmentedCosine"/>) but go through CLIP at most
    /// <paramref name="batchSize"/> at a time: each part's backward pass ends at a detached copy of
    /// the image, whose gradient sums the parts, and that sum is passed back through the image
    /// once. The gradient equals the one-batch gradient up to float summation order, and CLIP's
    /// activations are held for one part only, so memory does not grow with the replicate count.
    /// Returns the loss.
    /// </summary>
    internal double AugmentedLossBackward(Tensor image, int replicate, IRandomSource random, int batchSize, AugmentPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicate, 1);
        using var draws = DiffAugment.Draw(policy ?? AugmentPolicy.FuseDream, replicate, image.shape[^2], image.shape[^1], image.device, random);
        using var loss = AugmentedLossBackward(image, draws, batchSize);
        return LatentOptimizer.ReadLoss(loss);
    }

    /// <summary>
    /// <see cref="AugmentedLossBackward(Tensor, int, IRandomSource, int, AugmentPolicy?)"/> with the
    /// draws already made (on the image's device), returning the loss as a 0-d tensor that has not
    /// been read back (float32, or float64 when the copies went through CLIP in parts: the parts
    /// are summed in float64, as the host would), so a CUDA step does not wait for it. Caller owns it.
    /// </summary>
    internal Tensor AugmentedLossBackward(Tensor image, AugmentDraws draws, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(draws);
        if (image.dim() != 4 || image.shape[0] != 1)
            throw new ArgumentException($"expected one image [1, 3, H, W], got shape [{string.Join(", ", image.shape)}]", nameof(image));
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var replicate = draws.Batch;
        using var scope = NewDisposeScope();
        if (replicate <= batchSize)
        {
            var loss = -Cosine(DiffAugment.Apply(image.expand(replicate, -1, -1, -1), draws, 0, FusedResize)).mean();
            loss.backward();
            return loss.detach().MoveToOuterDisposeScope();
        }
        var leaf = image.detach().requires_grad_(true); // [1, 3, H, W]: where the parts' gradients meet
        Tensor? total = null;
        for (long start = 0; start < replicate; start += batchSize)
        {
            using var part = NewDisposeScope();
            var n = Math.Min(batchSize, replicate - start);
            var cosine = Cosine(DiffAugment.Apply(leaf.expand(n, -1, -1, -1), draws, start, FusedResize)); // [n]
            var partLoss = -cosine.sum() / replicate;
            partLoss.backward();
            var sum = (total is null ? partLoss.detach().to(ScalarType.Float64) : total + partLoss.detach().to(ScalarType.Float64)).MoveToOuterDisposeScope();
            total?.Dispose();
            total = sum;
        }
        image.backward([leaf.grad!]);
        return total!.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The AugCLIP score of one image [1, 3, H, W]: the mean cosine over <paramref name="count"/>
    /// augmentations, drawn in batches of at most <paramref name="batchSize"/> (each batch one
    /// DiffAugment call, as the original's <c>measureAugCLIP</c> repeats <c>AugmentLoss</c>).
    /// No gradients.
    /// </summary>
    public double MeasureAugClip(Tensor image, int count, IRandomSource random, int batchSize = 50)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        using var noGrad = no_grad();
        var sum = 0.0;
        for (var done = 0; done < count;)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(batchSize, count - done);
            sum += AugmentedCosine(image.detach(), n, random).sum().item<float>();
            done += n;
        }
        return sum / count;
    }

    public void Dispose() => _textFeatures.Dispose();
}
