using System.Diagnostics;
using FuseDream.BigGan;
using FuseDream.Clip;
using FuseDream.Generation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FuseDream.Composition;

/// <summary>What one outer step of the fusion measured.</summary>
/// <param name="LowerStart">The lower level's distance at the step's first inner step (ξ warm-started).</param>
/// <param name="LowerEnd">The distance at its last inner step.</param>
/// <param name="Upper">The upper objective at ξ_K: AugCLIP(G(ξ_K), T) + μ Σᵢ AugCLIP(crop_Rᵢ(G(ξ_K)), Tᵢ).</param>
public readonly record struct FusionStep(double LowerStart, double LowerEnd, double Upper);

/// <summary>
/// Stage 2 of a composed generation, the bi-level fusion (docs/composition.md).
/// <list type="bullet">
/// <item>Lower level (realism): ξ* = argmin_ξ Σᵢ d(mᵢ ⊙ G(ξ), mᵢ ⊙ xᵢ), with xᵢ = G(combine(θᵢ)) and
/// d = PixelWeight · (mean squared difference over the mask) + FeatureWeight · (1 − cosine of the CLIP
/// image features of the masked crops to Rᵢ's box), solved approximately by K steps of Adam on an
/// over-parameterised ξ warm-started from the previous outer step (first from the background's latent,
/// then <see cref="CompositionOptions.WarmupSteps"/> steps without a hypergradient).</item>
/// <item>Upper level (meaning): maximise AugCLIP(G(ξ_K), T) + μ Σᵢ AugCLIP(crop_Rᵢ(G(ξ_K)), Tᵢ) over
/// θ₁…θₙ with Adam, the hypergradient back-propagated through the K unrolled Adam steps
/// (<see cref="UnrolledAdam"/>, second-order terms through <c>create_graph</c>); the history before
/// the outer step's warm start is cut (truncated back-propagation; K = 1 is the first-order approximation).</item>
/// </list>
/// The models stay frozen; only θ (by outer Adam) and ξ with its Adam moments (by the unrolled
/// steps) change. Every step runs in its own dispose scope, so memory stays flat.
/// </summary>
public sealed class SceneFusion : IDisposable
{
    private readonly BigGanGenerator _generator;
    private readonly ClipModel _clip;
    private readonly AugClipScorer _scene;
    private readonly IReadOnlyList<AugClipScorer> _parts;
    private readonly CompositionOptions _options;
    private readonly Tensor _masks;  // [n, 1, H, W]
    private readonly Tensor _areas;  // [n]
    private readonly PixelRect[] _regions;
    private readonly Parameter[][] _theta; // [n][WeightsZ, WeightsY, BasisZ, BasisY]
    private readonly Adam _outer;
    private Tensor[] _xi;     // the lower level's ξ, detached between steps
    private Tensor[] _first;  // its Adam moments
    private Tensor[] _second;

    /// <param name="latents">Each component's over-parameterised latent (WeightsZ, WeightsY, BasisZ, BasisY); copied. The first is the background's, where ξ starts.</param>
    /// <param name="partScorers">The components' prompts, in the order of <paramref name="components"/>.</param>
    public SceneFusion(BigGanGenerator generator, ClipModel clip, AugClipScorer sceneScorer, IReadOnlyList<AugClipScorer> partScorers,
        IReadOnlyList<SceneComponent> components, IReadOnlyList<IReadOnlyList<Tensor>> latents, CompositionOptions options, bool optimizeY = true)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(clip);
        ArgumentNullException.ThrowIfNull(sceneScorer);
        ArgumentNullException.ThrowIfNull(partScorers);
        ArgumentNullException.ThrowIfNull(components);
        ArgumentNullException.ThrowIfNull(latents);
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid();
        if (components.Count == 0 || latents.Count != components.Count || partScorers.Count != components.Count)
            throw new ArgumentException($"one latent and one scorer per component: {components.Count} components, {latents.Count} latents, {partScorers.Count} scorers");
        _generator = generator;
        _clip = clip;
        _scene = sceneScorer;
        _parts = partScorers;
        _options = options;
        var resolution = generator.Resolution;
        var reference = latents[0][LatentSet.BasisZ];
        using (NewDisposeScope())
        using (no_grad())
        {
            _masks = SceneMasks.Build(components, resolution, resolution, options.Feather, reference.dtype, reference.device).DetachFromDisposeScope();
            _areas = _masks.sum([1, 2, 3]).clamp_min(1.0).DetachFromDisposeScope(); // [n]
            _theta = [.. latents.Select(parts => parts.Select((t, k) =>
            {
                var parameter = new Parameter(t.detach().clone(), requires_grad: k != LatentSet.BasisY || optimizeY);
                parameter.DetachFromDisposeScope();
                return parameter;
            }).ToArray())];
            _xi = LatentSet.DetachedCopy(latents[0]);
            _first = [.. _xi.Select(t => zeros_like(t).DetachFromDisposeScope())];
            _second = [.. _xi.Select(t => zeros_like(t).DetachFromDisposeScope())];
        }
        _regions = [.. components.Select(c => c.Region.Pixels(resolution, resolution))];
        _outer = optim.Adam(_theta.SelectMany(p => p).Where(p => p.requires_grad), lr: options.OuterLearningRate,
            beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0);
    }

    public int ComponentCount => _theta.Length;

    /// <summary>The components' latents θ (live parameters: read, do not keep).</summary>
    public IReadOnlyList<IReadOnlyList<Tensor>> Components => _theta;

    /// <summary>The fused latent ξ (read, do not keep).</summary>
    public IReadOnlyList<Tensor> Fused => _xi;

    /// <summary>The masks [n, 1, H, W].</summary>
    public Tensor Masks => _masks;

    /// <summary>Wall time spent so far in each part of the fusion.</summary>
    public FusionTimings Timings { get; } = new();

    /// <summary>Lower-level Adam steps taken so far (warm-up and unrolled).</summary>
    public int InnerStepsTaken { get; private set; }

    public int OuterStepsTaken { get; private set; }

    /// <summary>
    /// Lower-level steps on the current targets without a hypergradient; returns each step's distance.
    /// θ does not change during the warm-up, so the targets (n generator passes and n CLIP passes)
    /// are computed once for all its steps.
    /// </summary>
    public IReadOnlyList<double> Warmup(int steps, CancellationToken cancellationToken = default)
    {
        var losses = new List<double>(steps);
        if (steps == 0) return losses;
        var clock = Stopwatch.StartNew();
        using var targets = NewDisposeScope();
        Tensor masked, features;
        using (no_grad())
            (masked, features) = Targets();
        for (var s = 0; s < steps; s++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var xi = _xi.Select(t => t.detach().requires_grad_(true)).ToArray();
            var loss = LowerLoss(xi, masked, features);
            var gradients = autograd.grad([loss], xi);
            losses.Add(HostRead.Double(loss));
            using (no_grad())
            {
                var (p, m, v) = UnrolledAdam.Step([.. xi.Select(t => t.detach())], [.. gradients], _first, _second, InnerStepsTaken + 1, _options.InnerLearningRate);
                Commit(p, m, v);
            }
            InnerStepsTaken++;
        }
        Timings.Warmup += clock.Elapsed;
        return losses;
    }

    /// <summary>
    /// One outer step: unroll K lower-level steps from the warm start, evaluate the upper objective
    /// on G(ξ_K) with augmentations from <paramref name="draws"/>, back-propagate through the
    /// unrolled steps into θ, update θ (Adam, basis z clamped to ±2) and keep ξ_K and its moments
    /// as the next warm start.
    /// </summary>
    public FusionStep Step(IRandomSource draws)
    {
        using var scope = NewDisposeScope();
        using var secondOrder = SecondOrderAttention.Enable();
        _outer.zero_grad();
        var (upper, xi, m, v, lowerStart, lowerEnd) = Unroll(draws);
        var clock = Stopwatch.StartNew();
        (-upper).backward();
        _outer.step();
        using (no_grad())
        {
            foreach (var parts in _theta) parts[LatentSet.BasisZ].clamp_(-LatentOptimizer.ZThreshold, LatentOptimizer.ZThreshold);
            Commit([.. xi.Select(t => t.detach())], [.. m.Select(t => t.detach())], [.. v.Select(t => t.detach())]);
        }
        var value = HostRead.Double(upper);
        Timings.Hypergradient += clock.Elapsed;
        InnerStepsTaken += _options.InnerSteps;
        OuterStepsTaken++;
        return new FusionStep(lowerStart, lowerEnd, value);
    }

    /// <summary>
    /// The upper objective of the current θ (K steps unrolled from the current warm start, nothing
    /// updated), with its hypergradient left in θ's <c>grad</c> (zeroed first) when
    /// <paramref name="withGradient"/>. For gradient checks.
    /// </summary>
    internal double Objective(IRandomSource draws, bool withGradient)
    {
        using var scope = NewDisposeScope();
        using var secondOrder = SecondOrderAttention.Enable();
        _outer.zero_grad();
        var (upper, _, _, _, _, _) = Unroll(draws);
        if (withGradient) upper.backward();
        return HostRead.Double(upper);
    }

    /// <summary>The lower level's distance of the current ξ to the current targets.</summary>
    public double LowerDistance()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (masked, features) = Targets();
        return HostRead.Double(LowerLoss(_xi, masked, features));
    }

    private (Tensor Upper, Tensor[] Xi, Tensor[] First, Tensor[] Second, double LowerStart, double LowerEnd) Unroll(IRandomSource draws)
    {
        var clock = Stopwatch.StartNew();
        var (masked, features) = Targets(); // depend on θ: the path of the hypergradient
        Timings.Targets += clock.Elapsed;
        clock.Restart();
        Tensor[] xi = [.. _xi.Select(t => t.detach().requires_grad_(true))];
        Tensor[] m = _first, v = _second;
        double lowerStart = 0, lowerEnd = 0;
        for (var k = 1; k <= _options.InnerSteps; k++)
        {
            var loss = LowerLoss(xi, masked, features);
            var value = HostRead.Double(loss);
            if (k == 1) lowerStart = value;
            lowerEnd = value;
            var gradients = autograd.grad([loss], xi, retain_graph: true, create_graph: true);
            (xi, m, v) = UnrolledAdam.Step(xi, [.. gradients], m, v, InnerStepsTaken + k, _options.InnerLearningRate);
        }
        Timings.InnerSteps += clock.Elapsed;
        clock.Restart();
        var upper = UpperObjective(xi, draws);
        Timings.UpperObjective += clock.Elapsed;
        return (upper, xi, m, v, lowerStart, lowerEnd);
    }

    /// <summary>The components' masked images mᵢ ⊙ xᵢ [n, 3, H, W] and the unit CLIP features of their crops [n, embed].</summary>
    private (Tensor Masked, Tensor Features) Targets()
    {
        var combined = _theta.Select(LatentSet.Combine).ToList();
        var z = cat(combined.Select(c => c.Z).ToList()); // [n, dimZ]
        var y = cat(combined.Select(c => c.Y).ToList()); // [n, embedding]
        var masked = _generator.Generate(z, y) * _masks; // [n, 3, H, W]
        return (masked, _options.FeatureWeight > 0 ? CropFeatures(masked) : empty(0));
    }

    /// <summary>d summed over the components: Σᵢ PixelWeight · ‖mᵢ ⊙ (G(ξ) − xᵢ)‖² / (3 Σ mᵢ) + FeatureWeight · (1 − cos(E(crop mᵢ ⊙ G(ξ)), E(crop mᵢ ⊙ xᵢ))).</summary>
    private Tensor LowerLoss(IReadOnlyList<Tensor> xi, Tensor maskedTargets, Tensor targetFeatures)
    {
        var (z, y) = LatentSet.Combine(xi);
        var masked = _generator.Generate(z, y) * _masks; // [1, 3, H, W] × [n, 1, H, W] → [n, 3, H, W]
        var pixel = (masked - maskedTargets).square().sum([1, 2, 3]) / (3 * _areas); // [n]
        var loss = pixel.sum() * _options.PixelWeight;
        if (_options.FeatureWeight > 0)
        {
            var cosine = (CropFeatures(masked) * targetFeatures).sum(1); // [n]
            loss = loss + (1 - cosine).sum() * _options.FeatureWeight;
        }
        return loss;
    }

    /// <summary>Unit CLIP image features of each image's crop to its component's box: [n, embed].</summary>
    private Tensor CropFeatures(Tensor images)
    {
        var inputs = new List<Tensor>(_regions.Length);
        for (var i = 0; i < _regions.Length; i++)
            inputs.Add(_scene.ClipInput(_regions[i].Crop(images.narrow(0, i, 1)))); // [1, 3, R, R]
        var features = _clip.EncodeImage(cat(inputs)); // [n, embed]
        return features / features.norm(1, keepdim: true);
    }

    /// <summary>AugCLIP(G(ξ), T) + μ Σᵢ AugCLIP(crop_Rᵢ(G(ξ)), Tᵢ), differentiable.</summary>
    private Tensor UpperObjective(IReadOnlyList<Tensor> xi, IRandomSource draws)
    {
        var (z, y) = LatentSet.Combine(xi);
        var image = _generator.Generate(z, y); // [1, 3, H, W]
        var augmentations = _options.FusionAugmentations;
        var objective = _scene.AugmentedCosine(image, augmentations, draws).mean();
        if (_options.ComponentWeight > 0)
            for (var i = 0; i < _parts.Count; i++)
                objective = objective + _options.ComponentWeight * _parts[i].AugmentedCosine(_regions[i].Crop(image).contiguous(), augmentations, draws).mean();
        return objective;
    }

    /// <summary>G(ξ) [1, 3, H, W], without gradients (the caller owns it).</summary>
    public Tensor RenderFused()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (z, y) = LatentSet.Combine(_xi);
        return _generator.Generate(z, y).detach().MoveToOuterDisposeScope();
    }

    /// <summary>The components' images xᵢ = G(combine(θᵢ)) [n, 3, H, W], without gradients.</summary>
    public Tensor RenderComponents()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var combined = _theta.Select(LatentSet.Combine).ToList();
        return _generator.Generate(cat(combined.Select(c => c.Z).ToList()), cat(combined.Select(c => c.Y).ToList())).detach().MoveToOuterDisposeScope();
    }

    /// <summary>The naive composite Σᵢ mᵢ ⊙ xᵢ [1, 3, H, W] of the components' current images.</summary>
    public Tensor RenderComposite()
    {
        using var scope = NewDisposeScope();
        using var components = RenderComponents();
        return Composite(components).MoveToOuterDisposeScope();
    }

    /// <summary>The naive composite Σᵢ mᵢ ⊙ xᵢ [1, 3, H, W] of components already rendered by <see cref="RenderComponents"/> (no generator pass).</summary>
    public Tensor Composite(Tensor components)
    {
        ArgumentNullException.ThrowIfNull(components);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return (components * _masks).sum(0, keepdim: true).MoveToOuterDisposeScope(); // [n, 3, H, W] → [1, 3, H, W]
    }

    private void Commit(Tensor[] xi, Tensor[] first, Tensor[] second)
    {
        xi[LatentSet.BasisZ] = xi[LatentSet.BasisZ].clamp(-LatentOptimizer.ZThreshold, LatentOptimizer.ZThreshold);
        Replace(ref _xi, xi);
        Replace(ref _first, first);
        Replace(ref _second, second);
    }

    private static void Replace(ref Tensor[] kept, Tensor[] next)
    {
        var copies = next.Select(t => t.clone().DetachFromDisposeScope()).ToArray();
        foreach (var t in kept) t.Dispose();
        kept = copies;
    }

    public void Dispose()
    {
        _outer.Dispose();
        foreach (var t in _xi.Concat(_first).Concat(_second)) t.Dispose();
        foreach (var p in _theta.SelectMany(p => p)) p.Dispose();
        _masks.Dispose();
        _areas.Dispose();
    }
}
