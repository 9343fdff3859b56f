using FuseDream.BigGan;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>Settings of the over-parameterised latent optimisation (defaults: the paper's).</summary>
public sealed record LatentOptimizerSettings
{
    public double LearningRate { get; init; } = 5e-3;

    /// <summary>Add N(0, 0.01²) to the combined z and y before the generator (training only).</summary>
    public bool LatentNoise { get; init; } = true;

    /// <summary>Train the y basis too (the softmax weights of y are always trained, as in the original).</summary>
    public bool OptimizeY { get; init; } = true;

    /// <summary>Score with AugCLIP over <see cref="Augmentations"/> DiffAugment copies; off: the plain CLIP cosine.</summary>
    public bool Augment { get; init; } = true;

    public int Augmentations { get; init; } = 50;

    /// <summary>
    /// At most this many augmented copies go through CLIP together; more are scored in parts
    /// whose gradients add up to the one-batch gradient (<see cref="AugClipScorer"/>), so a step's
    /// memory is bounded by this, not by <see cref="Augmentations"/>. The default is the paper's
    /// replicate count, whose steps are therefore one batch, as in the original.
    /// </summary>
    public int AugmentationBatchSize { get; init; } = 50;

    /// <summary>How the softmax weights start (<see cref="LatentInit"/>); the default is the original's N(0, 1).</summary>
    public string Init { get; init; } = LatentInit.Paper;

    public static LatentOptimizerSettings From(GenerationOptions options) => new()
    {
        Init = options.Init,
        LearningRate = options.LearningRate,
        LatentNoise = options.LatentNoise,
        OptimizeY = options.OptimizeY,
        Augmentations = options.Augmentations,
    };
}

/// <summary>Hooks into one optimisation step (diagnostics and parity checks).</summary>
public interface IStepObserver
{
    /// <summary>The latents fed to the generator (with noise when latent noise is on).</summary>
    void OnGeneratorInput(Tensor z, Tensor y) { }

    /// <summary>After backward, before the Adam update: the parameters carry their gradients.</summary>
    void OnGradients(LatentOptimizer optimizer) { }

    /// <summary>After the Adam update, before z's basis is clamped to ±2.</summary>
    void OnUpdated(LatentOptimizer optimizer) { }
}

/// <summary>
/// FuseDream's over-parameterised optimisation (the original's <c>optimize_clip_score</c>):
/// z = Σₖ softmax(w_z)ₖ ⊙ basis_zₖ per coordinate (softmax over the basis index, separately
/// for every coordinate), y likewise; Adam over w_z, w_y, basis_z and (when optimising y)
/// basis_y; the loss is the negated AugCLIP of G(z + noise, y + noise); basis_z is clamped to
/// ±2 after every step. The generator and CLIP stay frozen: only these four tensors are
/// parameters. Every step runs in its own dispose scope, so memory stays flat.
/// Draw order, as the original: w_z, w_y at construction; per step noise_z, noise_y, then the
/// augmentation draws.
/// </summary>
public sealed class LatentOptimizer : IDisposable
{
    public const double NoiseScale = 0.01;
    public const double ZThreshold = 2.0;

    private readonly BigGanGenerator _generator;
    private readonly AugClipScorer _scorer;
    private readonly LatentOptimizerSettings _settings;
    private readonly IRandomSource _random;
    private readonly Device _device;
    private readonly Adam _adam;
    private Tensor? _lastZ;
    private Tensor? _lastY;

    /// <param name="basisZ">[k, dimZ]; copied.</param>
    /// <param name="basisY">[k, embedding]; copied.</param>
    public LatentOptimizer(BigGanGenerator generator, AugClipScorer scorer, Tensor basisZ, Tensor basisY,
        LatentOptimizerSettings settings, IRandomSource random, Device device)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(basisZ);
        ArgumentNullException.ThrowIfNull(basisY);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(random);
        if (basisZ.dim() != 2 || basisY.dim() != 2 || basisZ.shape[0] != basisY.shape[0])
            throw new ArgumentException($"expected bases [k, dimZ] and [k, embedding] with the same k, got [{string.Join(", ", basisZ.shape)}] and [{string.Join(", ", basisY.shape)}]");
        _generator = generator;
        _scorer = scorer;
        _settings = settings;
        _random = random;
        _device = device;

        using (NewDisposeScope())
        using (no_grad())
        {
            // Both strategies make the same draws, so the noise and augmentation draws that follow
            // are the same whichever start is chosen.
            WeightsZ = NewParameter(LatentInit.Weights(settings.Init, random.RandN([basisZ.shape[0], basisZ.shape[1]], device)), true);
            WeightsY = NewParameter(LatentInit.Weights(settings.Init, random.RandN([basisY.shape[0], basisY.shape[1]], device)), true);
            BasisY = NewParameter(basisY.detach().to(float32).to(device).clone(), settings.OptimizeY);
            BasisZ = NewParameter(basisZ.detach().to(float32).to(device).clone(), true);
        }
        // The original's parameter order: w_z, w_y, (opt_y,) opt_z.
        var parameters = settings.OptimizeY
            ? new[] { WeightsZ, WeightsY, BasisY, BasisZ }
            : new[] { WeightsZ, WeightsY, BasisZ };
        _adam = optim.Adam(parameters, lr: settings.LearningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0);
    }

    public Parameter WeightsZ { get; }
    public Parameter WeightsY { get; }
    public Parameter BasisZ { get; }
    public Parameter BasisY { get; }

    public int StepsTaken { get; private set; }

    /// <summary>
    /// One step: combine, add noise, generate, score, backward, Adam, clamp. Returns the loss
    /// (the negated AugCLIP of this step's noisy image, or the negated plain cosine).
    /// </summary>
    public double Step(IStepObserver? observer = null)
    {
        using var loss = StepWithoutReading(observer);
        return ReadLoss(loss);
    }

    /// <summary>The value of a loss from <see cref="StepWithoutReading"/> (waits for its step on a GPU).</summary>
    public static double ReadLoss(Tensor loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        return HostRead.Double(loss);
    }

    /// <summary>
    /// <see cref="Step"/> without reading the loss back: it is returned as a 0-d tensor on the
    /// device (the caller owns it), so the host can queue the next step before this one has run;
    /// read it when the next step is queued. The step's random draws (noise, then augmentations,
    /// in the original's order) are made on the CPU and reach the device in one copy.
    /// </summary>
    public Tensor StepWithoutReading(IStepObserver? observer = null)
    {
        using var scope = NewDisposeScope();
        _adam.zero_grad();
        var (z, y) = CombineWithGrad(); // [1, dimZ], [1, embedding]
        SetLast(z, y);
        var drawn = new List<Tensor>();
        if (_settings.LatentNoise)
        {
            drawn.Add(_random.RandN([.. z.shape], CPU));
            drawn.Add(_random.RandN([.. y.shape], CPU));
        }
        using var cpuDraws = _settings.Augment
            ? DiffAugment.Draw(AugmentPolicy.FuseDream, _settings.Augmentations, _generator.Resolution, _generator.Resolution, CPU, _random)
            : null;
        if (cpuDraws is not null) drawn.AddRange(cpuDraws.Tensors);
        var placed = DeviceTransfer.MoveTogether(drawn, _device);
        var noiseCount = _settings.LatentNoise ? 2 : 0;
        using var draws = cpuDraws?.With(placed[noiseCount..]);

        Tensor inputZ = z, inputY = y;
        if (_settings.LatentNoise)
        {
            inputZ = z + placed[0] * NoiseScale;
            inputY = y + placed[1] * NoiseScale;
        }
        observer?.OnGeneratorInput(inputZ, inputY);
        var image = _generator.Generate(inputZ, inputY); // [1, 3, R, R]
        Tensor loss;
        if (draws is not null)
            loss = _scorer.AugmentedLossBackward(image, draws, _settings.AugmentationBatchSize);
        else
        {
            loss = -_scorer.Cosine(image).mean(); // over [1]
            loss.backward();
            loss = loss.detach();
        }
        observer?.OnGradients(this);
        _adam.step();
        observer?.OnUpdated(this);
        using (no_grad())
            BasisZ.clamp_(-ZThreshold, ZThreshold);
        StepsTaken++;
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>The current noise-free combination (z [1, dimZ], y [1, embedding]), without gradients.</summary>
    public (Tensor Z, Tensor Y) Combine()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (z, y) = CombineWithGrad();
        return (z.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// What the original returns: the noise-free combination of the last step (computed before
    /// that step's update), or the current combination when no step was taken. Caller owns the copies.
    /// </summary>
    public (Tensor Z, Tensor Y) Result() =>
        _lastZ is null || _lastY is null ? Combine() : (_lastZ.clone(), _lastY.clone());

    private (Tensor Z, Tensor Y) CombineWithGrad()
    {
        var z = (softmax(WeightsZ, 0) * BasisZ).sum(0, keepdim: true); // [1, dimZ]
        var y = (softmax(WeightsY, 0) * BasisY).sum(0, keepdim: true); // [1, embedding]
        return (z, y);
    }

    private void SetLast(Tensor z, Tensor y)
    {
        _lastZ?.Dispose();
        _lastY?.Dispose();
        _lastZ = z.detach().clone().DetachFromDisposeScope();
        _lastY = y.detach().clone().DetachFromDisposeScope();
    }

    private static Parameter NewParameter(Tensor value, bool requiresGrad)
    {
        var parameter = new Parameter(value, requiresGrad);
        parameter.DetachFromDisposeScope();
        return parameter;
    }

    public void Dispose()
    {
        _adam.Dispose();
        _lastZ?.Dispose();
        _lastY?.Dispose();
        WeightsZ.Dispose();
        WeightsY.Dispose();
        BasisZ.Dispose();
        BasisY.Dispose();
    }
}
