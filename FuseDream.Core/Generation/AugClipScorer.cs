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
/// <c>NaiveSemanticLoss</c> and of the basis search. The scorer does not own the models.
/// <para>
/// Beyond the original: several weighted prompts and several CLIP models. With prompts Tᵢ of
/// weights wᵢ and CLIPs m of weights vₘ, the score of an image is
/// <c>Σₘ v̂ₘ Σᵢ ŵᵢ cosₘ(x, Tᵢ)</c> with <c>ŵᵢ = wᵢ / Σ_{wⱼ &gt; 0} wⱼ</c> (<see cref="WeightedPrompts"/>)
/// and <c>v̂ₘ = vₘ / Σ vₘ</c>: the ensemble's score is the weighted mean of each CLIP's score.
/// Each CLIP gets the image at its own input resolution. One prompt on one CLIP computes
/// exactly what the original does.
/// </para>
/// </summary>
public sealed class AugClipScorer : IDisposable
{
    /// <summary>One CLIP of the ensemble: its encoded prompts [prompts, embed] and its normalised weight.</summary>
    private sealed record Member(ClipModel Clip, Tensor Text, double Weight);

    private readonly Member[] _members;
    private readonly double[] _promptWeights; // ŵᵢ
    private readonly Tensor? _promptWeightTensor; // [prompts], null for one prompt (ŵ = 1)

    /// <summary>One prompt on one CLIP. Takes ownership of <paramref name="textFeatures"/> [1, embed] (or [embed]).</summary>
    public AugClipScorer(ClipModel clip, Tensor textFeatures)
        : this([(clip, textFeatures, 1.0)], [1.0])
    {
    }

    /// <summary>
    /// Prompts on one or more CLIPs. Takes ownership of each text feature tensor [prompts, embed];
    /// <paramref name="promptWeights"/> are the prompts' normalised weights ŵᵢ, the CLIPs' weights
    /// are normalised here to sum to 1.
    /// </summary>
    public AugClipScorer(IReadOnlyList<(ClipModel Clip, Tensor TextFeatures, double Weight)> members, IReadOnlyList<double> promptWeights)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(promptWeights);
        if (members.Count == 0) throw new ArgumentException("no CLIP model given", nameof(members));
        if (promptWeights.Count == 0) throw new ArgumentException("no prompt given", nameof(promptWeights));
        var total = members.Sum(m => m.Weight);
        if (members.Any(m => !(m.Weight > 0))) throw new ArgumentException("every CLIP model's weight must be positive", nameof(members));
        _members = new Member[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            var (clip, features, weight) = members[i];
            ArgumentNullException.ThrowIfNull(clip);
            ArgumentNullException.ThrowIfNull(features);
            Tensor text;
            using (NewDisposeScope())
                text = (features.dim() == 1 ? features.unsqueeze(0) : features.alias()).detach().DetachFromDisposeScope(); // [prompts, embed]
            features.Dispose();
            if (text.shape[0] != promptWeights.Count)
                throw new ArgumentException($"CLIP {i} has {text.shape[0]} encoded prompts, expected {promptWeights.Count}", nameof(members));
            _members[i] = new Member(clip, text, members.Count == 1 ? 1.0 : weight / total);
        }
        _promptWeights = [.. promptWeights];
        if (_promptWeights.Length > 1)
            _promptWeightTensor = tensor(_promptWeights.Select(w => (float)w).ToArray()).DetachFromDisposeScope(); // [prompts]
        Resolution = _members[0].Clip.InputResolution;
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

    /// <summary>
    /// Weighted prompts (<see cref="WeightedPrompts"/>) on weighted CLIPs: each prompt is
    /// tokenized (throws <see cref="PromptTooLongException"/> beyond 77 tokens) and encoded once by each CLIP.
    /// </summary>
    public static AugClipScorer ForPrompts(IReadOnlyList<(ClipModel Clip, double Weight)> clips, IReadOnlyList<WeightedPrompt> prompts, Device device)
    {
        ArgumentNullException.ThrowIfNull(clips);
        WeightedPrompts.EnsureValid(prompts);
        var ids = prompts.Select(p => ClipTokenizer.Default.Tokenize(p.Text).Ids).ToArray();
        var members = new List<(ClipModel, Tensor, double)>();
        try
        {
            foreach (var (clip, weight) in clips)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var tokens = tensor(ids.SelectMany(t => t).ToArray(), device: device).view(ids.Length, ids[0].Length); // [prompts, 77]
                members.Add((clip, clip.EncodeText(tokens).MoveToOuterDisposeScope(), weight)); // [prompts, embed]
            }
            return new AugClipScorer(members, WeightedPrompts.NormalisedWeights(prompts));
        }
        catch
        {
            foreach (var (_, features, _) in members) features.Dispose();
            throw;
        }
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

    /// <summary>The first CLIP's input size (224 for ViT-B/32); each CLIP of an ensemble gets its own.</summary>
    public int Resolution { get; }

    /// <summary>How many prompts are scored.</summary>
    public int PromptCount => _promptWeights.Length;

    /// <summary>How many CLIP models score.</summary>
    public int ClipCount => _members.Length;

    /// <summary>[-1, 1] images [batch, 3, H, W] → the first CLIP's normalised input [batch, 3, R, R].</summary>
    public Tensor ClipInput(Tensor images) => ClipInput(images, Resolution, FusedResize);

    /// <summary>
    /// [-1, 1] images [batch, 3, H, W] → CLIP's normalised input [batch, 3, R, R] at
    /// <paramref name="resolution"/>; <paramref name="fused"/> resizes with libtorch's kernel.
    /// </summary>
    public static Tensor ClipInput(Tensor images, int resolution, bool fused = false)
    {
        using var scope = NewDisposeScope();
        var in01 = (images + 1) / 2;
        var resized = fused
            ? BilinearResize.ResizeFused(in01, resolution, resolution)
            : BilinearResize.Resize(in01, resolution, resolution); // [batch, 3, R, R]
        return ClipPreprocessing.Normalize(resized).MoveToOuterDisposeScope();
    }

    /// <summary>The weighted score of each image (the plain cosine for one prompt on one CLIP): [batch]. Differentiable.</summary>
    public Tensor Cosine(Tensor images)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var member in _members)
        {
            var cosine = MemberCosines(member, images); // [batch, prompts]
            var score = _promptWeightTensor is null
                ? cosine.squeeze(1)
                : cosine.matmul(_promptWeightTensor.to(cosine.device)); // [batch]
            if (_members.Length > 1) score = score * member.Weight;
            total = total is null ? score : total + score;
        }
        return total!.MoveToOuterDisposeScope();
    }

    /// <summary>Each prompt's cosine with each image, averaged over the CLIPs by their weights: [batch, prompts]. Differentiable.</summary>
    public Tensor PromptCosines(Tensor images)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var member in _members)
        {
            var cosine = MemberCosines(member, images); // [batch, prompts]
            if (_members.Length > 1) cosine = cosine * member.Weight;
            total = total is null ? cosine : total + cosine;
        }
        return total!.MoveToOuterDisposeScope();
    }

    private Tensor MemberCosines(Member member, Tensor images)
    {
        using var scope = NewDisposeScope();
        var features = member.Clip.EncodeImage(ClipInput(images, member.Clip.InputResolution, FusedResize)); // [batch, embed]
        return ClipModel.CosineSimilarity(features, member.Text.to(features.device)).MoveToOuterDisposeScope(); // [batch, prompts]
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
    /// With several prompts, the weighted score of <see cref="MeasurePrompts"/>. No gradients.
    /// </summary>
    public double MeasureAugClip(Tensor image, int count, IRandomSource random, int batchSize = 50) =>
        PromptCount == 1 && _members.Length == 1
            ? MeasureSingle(image, count, random, batchSize)
            : MeasurePrompts(image, count, random, batchSize).Score;

    /// <summary>
    /// The AugCLIP score of each prompt over the same <paramref name="count"/> augmentations,
    /// and the weighted score Σ ŵᵢ · AugCLIPᵢ. No gradients.
    /// </summary>
    public (double Score, double[] PerPrompt) MeasurePrompts(Tensor image, int count, IRandomSource random, int batchSize = 50)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (PromptCount == 1 && _members.Length == 1)
        {
            var single = MeasureSingle(image, count, random, batchSize);
            return (single, [single]);
        }
        ArgumentNullException.ThrowIfNull(image);
        using var noGrad = no_grad();
        var sums = new double[PromptCount];
        for (var done = 0; done < count;)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(batchSize, count - done);
            var copies = image.detach().expand(n, -1, -1, -1); // [n, 3, H, W]
            var augmented = DiffAugment.Apply(copies, AugmentPolicy.FuseDream, random);
            var batch = PromptCosines(augmented).sum(dim: 0L).to(float64).cpu(); // [prompts]
            for (var i = 0; i < sums.Length; i++) sums[i] += HostRead.Scalar<double>(batch[i]);
            done += n;
        }
        var perPrompt = sums.Select(s => s / count).ToArray();
        var score = 0.0;
        for (var i = 0; i < perPrompt.Length; i++) score += _promptWeights[i] * perPrompt[i];
        return (score, perPrompt);
    }

    private double MeasureSingle(Tensor image, int count, IRandomSource random, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        using var noGrad = no_grad();
        var sum = 0.0;
        for (var done = 0; done < count;)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(batchSize, count - done);
            sum += HostRead.Scalar<float>(AugmentedCosine(image.detach(), n, random).sum());
            done += n;
        }
        return sum / count;
    }

    public void Dispose()
    {
        foreach (var member in _members) member.Text.Dispose();
        _promptWeightTensor?.Dispose();
    }
}
