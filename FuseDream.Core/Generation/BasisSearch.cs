using FuseDream.BigGan;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>How many random samples to score and how many to keep.</summary>
public sealed record BasisSearchSettings(int Iterations, int SamplesPerIteration, int TopK, int BatchSize)
{
    public long TotalSamples => (long)Iterations * SamplesPerIteration;

    public void EnsureValid()
    {
        if (Iterations < 1) throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "must be at least 1");
        if (SamplesPerIteration < 1) throw new ArgumentOutOfRangeException(nameof(SamplesPerIteration), SamplesPerIteration, "must be at least 1");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "must be at least 1");
        if (TopK < 1 || TopK > TotalSamples)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, $"must be between 1 and the number of samples ({TotalSamples})");
    }
}

/// <summary>The kept samples, best first: z [k, dimZ] (clamped), y = shared class embedding [k, 128].</summary>
public sealed class LatentBasis : IDisposable
{
    public LatentBasis(Tensor z, Tensor y, long[] classes, float[] scores)
    {
        Z = z;
        Y = y;
        Classes = classes;
        Scores = scores;
    }

    public Tensor Z { get; }
    public Tensor Y { get; }
    public long[] Classes { get; }

    /// <summary>Plain CLIP cosine of each kept sample, descending.</summary>
    public float[] Scores { get; }

    public void Dispose()
    {
        Z.Dispose();
        Y.Dispose();
    }
}

/// <summary>
/// The initialisation of FuseDream (the original's <c>generate_basis</c>): draw
/// <c>Iterations × SamplesPerIteration</c> random (z, class) pairs — z ~ N(0, 1) clamped to
/// ±2, classes uniform — render each, score it with the plain CLIP cosine, keep the top k.
/// Draws happen per iteration exactly as the original's (<c>z_.sample_()</c> then
/// <c>y_.sample_()</c>), but images are rendered in batches of <c>BatchSize</c>, which is
/// independent of the sample count: the batch size changes speed and memory, not the samples.
/// </summary>
public static class BasisSearch
{
    public const double ZThreshold = 2.0;

    /// <param name="onProgress">Called after each batch with (samples scored, total samples).</param>
    /// <param name="onScores">Called with each batch's cosines, in sample order (diagnostics; copies them to the CPU).</param>
    public static LatentBasis Run(
        BigGanGenerator generator,
        AugClipScorer scorer,
        BasisSearchSettings settings,
        IRandomSource random,
        Device device,
        Action<long, long>? onProgress = null,
        Action<float[]>? onScores = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(settings);
        settings.EnsureValid();
        using var noGrad = no_grad();
        var stream = new SampleStream(random, settings.SamplesPerIteration, generator.DimZ, generator.NumClasses, device);
        Tensor? keptZ = null, keptClasses = null, keptScores = null;
        try
        {
            var total = settings.TotalSamples;
            for (long done = 0; done < total;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var n = (int)Math.Min(settings.BatchSize, total - done);
                var (z, classes) = stream.Take(n); // [n, dimZ], [n]
                z = z.clamp(-ZThreshold, ZThreshold);
                var images = generator.Generate(z, generator.ClassEmbedding(classes)); // [n, 3, R, R]
                var scores = scorer.Cosine(images); // [n]
                if (onScores is not null) onScores(scores.cpu().data<float>().ToArray());

                var allScores = keptScores is null ? scores : cat([keptScores, scores]);
                var allZ = keptZ is null ? z : cat([keptZ, z]);
                var allClasses = keptClasses is null ? classes : cat([keptClasses, classes]);
                var k = (int)Math.Min(settings.TopK, allScores.shape[0]);
                var (bestScores, order) = allScores.topk(k, largest: true, sorted: true);
                var nextZ = allZ.index_select(0, order).MoveToOuterDisposeScope();
                var nextClasses = allClasses.index_select(0, order).MoveToOuterDisposeScope();
                var nextScores = bestScores.MoveToOuterDisposeScope();
                keptZ?.Dispose();
                keptClasses?.Dispose();
                keptScores?.Dispose();
                (keptZ, keptClasses, keptScores) = (nextZ, nextClasses, nextScores);

                done += n;
                onProgress?.Invoke(done, total);
            }

            using var final = NewDisposeScope();
            var classIds = keptClasses!.cpu().data<long>().ToArray();
            var scoreValues = keptScores!.cpu().data<float>().ToArray();
            // The original keeps class ids and returns G.shared(ids) as the y basis.
            var y = generator.ClassEmbedding(keptClasses).detach().MoveToOuterDisposeScope(); // [k, 128]
            var basisZ = keptZ!.detach().MoveToOuterDisposeScope(); // [k, dimZ]
            return new LatentBasis(basisZ, y, classIds, scoreValues);
        }
        finally
        {
            stream.Dispose();
            keptZ?.Dispose();
            keptClasses?.Dispose();
            keptScores?.Dispose();
        }
    }

    /// <summary>Hands out samples drawn one iteration at a time, whatever the batch size.</summary>
    private sealed class SampleStream(IRandomSource random, int perIteration, int dimZ, int numClasses, Device device) : IDisposable
    {
        private Tensor? _z;       // [perIteration, dimZ]
        private Tensor? _classes; // [perIteration]
        private int _offset;

        public (Tensor Z, Tensor Classes) Take(int count)
        {
            var zs = new List<Tensor>();
            var cs = new List<Tensor>();
            while (count > 0)
            {
                if (_z is null || _offset == perIteration) Draw();
                var n = Math.Min(count, perIteration - _offset);
                zs.Add(_z!.narrow(0, _offset, n));
                cs.Add(_classes!.narrow(0, _offset, n));
                _offset += n;
                count -= n;
            }
            return zs.Count == 1 ? (zs[0].clone(), cs[0].clone()) : (cat(zs), cat(cs));
        }

        private void Draw()
        {
            _z?.Dispose();
            _classes?.Dispose();
            // The original: z_.sample_() (normal, var 1) then y_.sample_() (uniform class).
            _z = random.RandN([perIteration, dimZ], device).DetachFromDisposeScope();
            _classes = random.RandInt(0, numClasses, [perIteration], device).DetachFromDisposeScope();
            _offset = 0;
        }

        public void Dispose()
        {
            _z?.Dispose();
            _classes?.Dispose();
        }
    }
}
