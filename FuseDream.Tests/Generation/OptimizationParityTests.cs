using System.Text.Json;
using System.Text.RegularExpressions;
using FuseDream.Generation;
using FuseDream.Tests.Support;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>
/// Basis search, the softmax combination and two optimisation iterations against the
/// original's <c>generate_basis</c> and <c>optimize_clip_score</c> (every set under Fixtures/fusedream).
/// </summary>
public class OptimizationParityTests
{
    public static TheoryData<string> Sets => FuseDreamFixtureSet.All();

    [Theory]
    [MemberData(nameof(Sets))]
    public void BasisSearch_KeepsTheOriginalsTopK_WithAnyBatchSize(string descriptor)
    {
        using var set = new FuseDreamFixtureSet(descriptor);
        using var clip = set.LoadClip();
        using var generator = set.LoadGenerator();
        using var scorer = AugClipScorer.ForTokens(clip, set.TextTokens, CPU);
        using var scope = NewDisposeScope();
        var spec = set.Root.GetProperty("basis");
        var zSamples = set.Reference["basis.z_samples"]; // [iterations, samples, dimZ]
        var ySamples = set.Reference["basis.y_samples"]; // [iterations, samples]
        var iterations = (int)zSamples.shape[0];
        var perIteration = (int)zSamples.shape[1];
        var topK = (int)set.Reference["basis.z_init"].shape[0];
        var tolerance = FuseDreamFixtureSet.Tolerance(spec.GetProperty("tolerances").GetProperty("basis.scores_*"));

        // Batch sizes from the set's sample count, each of which makes batches straddle the
        // iterations: the smallest that does not divide an iteration's samples (also smaller than
        // top k, for this set 3 + 3 + 3 + 1 | 2 + …), and one more than an iteration holds (each
        // batch spans two iterations and the last one is short). Kept to two and small: the tiny
        // 256 model attends over 128×128 positions, about 0.3–0.5 GB per image.
        var smallestNonDivisor = Enumerable.Range(2, perIteration).First(b => perIteration % b != 0);
        var batchSizes = new[] { smallestNonDivisor, perIteration + 1 };
        Assert.All(batchSizes, b => Assert.NotEqual(0, perIteration % b));
        foreach (var batchSize in batchSizes)
        {
            var draws = new RecordedRandomSource();
            for (var i = 0; i < iterations; i++)
            {
                draws.AddTensor(RecordedRandomSource.DrawKind.RandN, zSamples[i]);
                draws.AddRandInt(0, generator.NumClasses, ySamples[i]);
            }
            var scores = new List<float>();
            using var basis = BasisSearch.Run(generator, scorer, new BasisSearchSettings(iterations, perIteration, topK, batchSize),
                draws, CPU, onScores: scores.AddRange);
            Assert.Equal(0, draws.Remaining);
            var label = $"batch {batchSize}";

            TensorAssert.Close(set.Reference["basis.z_init"], basis.Z, 0, 0, $"{label}: basis.z_init");
            TensorAssert.Close(set.Reference["basis.y_init"], basis.Y, 0, 0, $"{label}: basis.y_init");
            Assert.Equal(set.Reference["basis.y_init_classes"].data<long>().ToArray(), basis.Classes);
            TensorAssert.Close(set.Reference["basis.scores_final"], tensor(basis.Scores), tolerance.Atol, tolerance.Rtol, $"{label}: basis.scores_final");

            // Every sample's score: replay the vectors the original sorted each iteration
            // (the kept scores, best first, then the new ones in sample order).
            var all = tensor(scores.ToArray()); // [iterations · samples], in sample order
            Tensor? kept = null;
            for (var i = 0; i < iterations; i++)
            {
                var fresh = all.narrow(0, i * perIteration, perIteration);
                var merged = kept is null ? fresh : cat([kept, fresh]);
                TensorAssert.Close(set.Reference[$"basis.scores_iter{i}"], merged, tolerance.Atol, tolerance.Rtol, $"{label}: basis.scores_iter{i}");
                kept = merged.sort(descending: true).Values.narrow(0, 0, Math.Min(topK, merged.shape[0]));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void Combination_IsASoftmaxOverTheBasis_PerCoordinate(string descriptor)
    {
        using var set = new FuseDreamFixtureSet(descriptor);
        using var clip = set.LoadClip();
        using var generator = set.LoadGenerator();
        using var scorer = AugClipScorer.ForTokens(clip, set.TextTokens, CPU);
        using var scope = NewDisposeScope();
        var combine = set.Root.GetProperty("combine");
        var inputs = combine.GetProperty("inputs");
        var draws = new RecordedRandomSource()
            .AddTensor(RecordedRandomSource.DrawKind.RandN, set.Reference[inputs.GetProperty("w_z").GetString()!])
            .AddTensor(RecordedRandomSource.DrawKind.RandN, set.Reference[inputs.GetProperty("w_y").GetString()!]);
        using var optimizer = new LatentOptimizer(generator, scorer,
            set.Reference[inputs.GetProperty("basis_z").GetString()!], set.Reference[inputs.GetProperty("basis_y").GetString()!],
            new LatentOptimizerSettings(), draws, CPU);
        var (z, y) = optimizer.Combine();
        var (atol, rtol) = FuseDreamFixtureSet.Tolerance(combine.GetProperty("tolerances"));
        var outputs = combine.GetProperty("outputs");
        TensorAssert.Close(set.Reference[outputs.GetProperty("cur_z").GetString()!], z, atol, rtol, "cur_z");
        TensorAssert.Close(set.Reference[outputs.GetProperty("cur_y").GetString()!], y, atol, rtol, "cur_y");
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void TwoIterations_WithoutNoiseOrAugmentation_MatchTheOriginal(string descriptor) =>
        CompareIterations(descriptor, "step_det", noiseAndAugmentation: false);

    [Theory]
    [MemberData(nameof(Sets))]
    public void TwoIterations_WithNoiseAndAugmentation_MatchTheOriginal(string descriptor) =>
        CompareIterations(descriptor, "step_full", noiseAndAugmentation: true);

    /// <summary>
    /// The optimiser's settings for a recorded run, from its descriptor: the flags of the
    /// original's call, the learning rate from the constants, the augmentation count from the
    /// size of the first augmentation draw. The constants this port does not take as settings
    /// (noise scale, z threshold, policy) must be the ones the set was recorded with.
    /// </summary>
    private static LatentOptimizerSettings SettingsOf(FuseDreamFixtureSet set, JsonElement spec)
    {
        var call = spec.GetProperty("call").GetString()!;
        var constants = set.Root.GetProperty("constants");
        Assert.Equal(LatentOptimizer.NoiseScale, constants.GetProperty("LATENT_NOISE").GetDouble());
        Assert.Equal(LatentOptimizer.ZThreshold, constants.GetProperty("Z_THRES").GetDouble());
        Assert.Equal(AugmentPolicy.Parse(constants.GetProperty("POLICY").GetString()!).Steps, AugmentPolicy.FuseDream.Steps);
        var augment = Flag(call, "augment");
        var settings = new LatentOptimizerSettings
        {
            LearningRate = constants.GetProperty("lr").GetDouble(),
            LatentNoise = Flag(call, "latent_noise"),
            Augment = augment,
            OptimizeY = Flag(call, "optimize_y"),
        };
        if (augment)
        {
            var first = spec.GetProperty("draws").EnumerateArray().First(d => d.GetProperty("fn").GetString() == "torch.rand");
            settings = settings with { Augmentations = first.GetProperty("shape")[0].GetInt32() };
        }
        return settings;

        static bool Flag(string call, string name)
        {
            var match = Regex.Match(call, $@"\b{name}=(True|False)\b");
            Assert.True(match.Success, $"no {name}=True|False in '{call}'");
            return match.Groups[1].Value == "True";
        }
    }

    private static void CompareIterations(string descriptor, string key, bool noiseAndAugmentation)
    {
        using var set = new FuseDreamFixtureSet(descriptor);
        using var clip = set.LoadClip();
        using var generator = set.LoadGenerator();
        using var scorer = AugClipScorer.ForTokens(clip, set.TextTokens, CPU);
        using var scope = NewDisposeScope();
        var spec = set.Root.GetProperty(key);
        var settings = SettingsOf(set, spec);
        Assert.Equal(noiseAndAugmentation, settings.LatentNoise);
        Assert.Equal(noiseAndAugmentation, settings.Augment);
        var tolerances = spec.GetProperty("tolerances");
        var lr = settings.LearningRate;
        var draws = RecordedRandomSource.FromFixture(spec.GetProperty("draws"), set.Reference);
        var iterations = set.Reference.Names.Count(n => n.StartsWith($"{key}.iter", StringComparison.Ordinal) && n.EndsWith(".loss", StringComparison.Ordinal));
        Assert.True(iterations > 0, $"{key}: no iterations recorded");

        using var optimizer = new LatentOptimizer(generator, scorer,
            set.Reference[$"{key}.init.opt_z"], set.Reference[$"{key}.init.opt_y"], settings, draws, CPU);
        var parameters = new Dictionary<string, Parameter>
        {
            ["w_z"] = optimizer.WeightsZ,
            ["w_y"] = optimizer.WeightsY,
            ["opt_y"] = optimizer.BasisY,
            ["opt_z"] = optimizer.BasisZ,
        };
        // Elements whose reference gradient was ever tiny may flip their Adam update (fixture rule).
        var smallGradient = parameters.Keys.ToDictionary(p => p, p => zeros_like(parameters[p], dtype: ScalarType.Bool));
        var inputTol = FuseDreamFixtureSet.Tolerance(tolerances.GetProperty("*.G_input_*"));
        var lossTol = FuseDreamFixtureSet.Tolerance(tolerances.GetProperty("*.loss"));
        var paramTol = FuseDreamFixtureSet.Tolerance(tolerances.GetProperty("*.after_step.<p> / *.final.<p> / *.returned.z / *.returned.y"));
        var gradRtol = tolerances.GetProperty("*.grad.<p>").GetProperty("rtol").GetDouble();

        using var returnedAllowance = new CombinationAllowance();
        for (var i = 0; i < iterations; i++)
        {
            var observer = new Observer(set, key, i, parameters, smallGradient, returnedAllowance, inputTol, gradRtol, paramTol, lr);
            var loss = optimizer.Step(observer);
            Assert.True(observer.SawAll, $"{key}.iter{i}: a step hook did not run");
            TensorAssert.Close(set.Reference[$"{key}.iter{i}.loss"], tensor(new[] { (float)loss }), lossTol.Atol, lossTol.Rtol, $"{key}.iter{i}.loss");
        }
        Assert.Equal(0, draws.Remaining);

        foreach (var (name, parameter) in parameters)
            TensorAssert.Close(set.Reference[$"{key}.final.{name}"], parameter, paramTol.Atol, paramTol.Rtol,
                FlipAllowance(smallGradient[name], lr, iterations), $"{key}.final.{name}");

        // The returned latents are the last step's combination: an element may exceed the strict
        // tolerance only as far as the flagged parameter elements it was combined from allow.
        var (z, y) = optimizer.Result();
        TensorAssert.Close(set.Reference[$"{key}.returned.z"], z, paramTol.Atol, paramTol.Rtol, returnedAllowance.Z, $"{key}.returned.z");
        TensorAssert.Close(set.Reference[$"{key}.returned.y"], y, paramTol.Atol, paramTol.Rtol, returnedAllowance.Y, $"{key}.returned.y");
        using (no_grad())
        {
            var image = generator.Generate(z, y);
            set.CompareViews($"{key}.returned.image", image, tolerances.GetProperty("*.returned.image.*").GetProperty("atol").GetDouble(), 0);
        }
    }

    /// <summary>
    /// The descriptor's exception to the parameter tolerance: an element whose reference gradient
    /// was within rounding of zero (|g| &lt; 0.01·max|g| in any iteration so far) may have flipped
    /// its Adam update, up to 2·lr per step; every other element gets no extra.
    /// </summary>
    private static Tensor FlipAllowance(Tensor mayFlip, double lr, int steps) =>
        mayFlip.to(float64) * (2 * lr * steps);

    /// <summary>
    /// The flip allowance carried through cur = Σₖ softmax(w)ₖ ⊙ basisₖ (per coordinate j, over the
    /// basis index k): to first order |Δcur_j| ≤ Σₖ sₖⱼ·(A_basis[k, j] + |basis[k, j] − cur_j|·A_w[k, j]),
    /// scaled by e^(2·δ) for the softmax's curvature, δ the largest allowance. Zero where no
    /// flagged element contributes, so those coordinates keep the strict tolerance.
    /// </summary>
    internal static Tensor CarryThroughCombination(Tensor weights, Tensor basis, Tensor weightsAllowance, Tensor basisAllowance)
    {
        using var scope = NewDisposeScope();
        var s = softmax(weights.detach().to(float64), 0); // [basis, dim]
        var b = basis.detach().to(float64); // [basis, dim]
        var cur = (s * b).sum(0, keepdim: true); // [1, dim]
        var delta = Math.Max(weightsAllowance.max().item<double>(), basisAllowance.max().item<double>());
        var firstOrder = (s * (basisAllowance + (b - cur).abs() * weightsAllowance)).sum(0, keepdim: true); // [1, dim]
        return (firstOrder * Math.Exp(2 * delta)).MoveToOuterDisposeScope();
    }

    /// <summary>The allowance of the combination fed to G in the latest step (the returned latents after the last one).</summary>
    private sealed class CombinationAllowance : IDisposable
    {
        public Tensor? Z { get; private set; }
        public Tensor? Y { get; private set; }

        public void Set(Tensor z, Tensor y)
        {
            Dispose();
            Z = z.DetachFromDisposeScope();
            Y = y.DetachFromDisposeScope();
        }

        public void Dispose()
        {
            Z?.Dispose();
            Y?.Dispose();
        }
    }

    private sealed class Observer(
        FuseDreamFixtureSet set, string key, int iteration, Dictionary<string, Parameter> parameters,
        Dictionary<string, Tensor> smallGradient, CombinationAllowance combinationAllowance, (double Atol, double Rtol) inputTol, double gradRtol,
        (double Atol, double Rtol) paramTol, double lr) : IStepObserver
    {
        private int _seen;

        public bool SawAll => _seen == 3;

        public void OnGeneratorInput(Tensor z, Tensor y)
        {
            TensorAssert.Close(set.Reference[$"{key}.iter{iteration}.G_input_z"], z, inputTol.Atol, inputTol.Rtol, $"{key}.iter{iteration}.G_input_z");
            TensorAssert.Close(set.Reference[$"{key}.iter{iteration}.G_input_y"], y, inputTol.Atol, inputTol.Rtol, $"{key}.iter{iteration}.G_input_y");
            // The parameters now are the ones this step combines (and returns, if it is the last).
            var allowance = parameters.ToDictionary(p => p.Key, p => FlipAllowance(smallGradient[p.Key], lr, iteration));
            combinationAllowance.Set(
                CarryThroughCombination(parameters["w_z"], parameters["opt_z"], allowance["w_z"], allowance["opt_z"]),
                CarryThroughCombination(parameters["w_y"], parameters["opt_y"], allowance["w_y"], allowance["opt_y"]));
            _seen++;
        }

        public void OnGradients(LatentOptimizer optimizer)
        {
            foreach (var (name, parameter) in parameters)
            {
                var expected = set.Reference[$"{key}.iter{iteration}.grad.{name}"];
                var scale = expected.abs().max().item<float>();
                TensorAssert.Close(expected, parameter.grad!, 0.01 * scale, gradRtol, $"{key}.iter{iteration}.grad.{name}");
                var small = expected.abs().lt(0.01 * scale);
                smallGradient[name].logical_or_(small);
            }
            _seen++;
        }

        public void OnUpdated(LatentOptimizer optimizer)
        {
            foreach (var (name, parameter) in parameters)
                TensorAssert.Close(set.Reference[$"{key}.iter{iteration}.after_step.{name}"], parameter, paramTol.Atol, paramTol.Rtol,
                    FlipAllowance(smallGradient[name], lr, iteration + 1), $"{key}.iter{iteration}.after_step.{name}");
            _seen++;
        }
    }
}
