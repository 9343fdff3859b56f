using FuseDream.Worker.Commands;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>The arithmetic behind <c>bench pipeline</c>'s medians and <c>bench precision</c>'s figures.</summary>
public sealed class BenchmarkFiguresTests
{
    [Fact]
    public void Median_IsTheMiddleRun_OrTheMeanOfTheMiddleTwo()
    {
        Assert.Equal(3.0, PipelineBenchmark.Median([9.0, 3.0, 1.0]));
        Assert.Equal(2.5, PipelineBenchmark.Median([4.0, 1.0, 2.0, 3.0]));
        Assert.Equal(7.0, PipelineBenchmark.Median([7.0]));
        Assert.Throws<ArgumentException>(() => PipelineBenchmark.Median([]));
    }

    [Fact]
    public void Psnr_ReadsImagesAsZeroToOne()
    {
        using var reference = zeros(1, 3, 4, 4);
        using var other = full([1, 3, 4, 4], 0.2f); // 0.1 apart once mapped to [0, 1]: MSE 0.01, 20 dB
        Assert.Equal(20.0, PrecisionBenchmark.Psnr(reference, other), 3);
        Assert.Equal(double.PositiveInfinity, PrecisionBenchmark.Psnr(reference, reference));
    }

    [Fact]
    public void Report_ComparesTheDifferenceWithTheSeedToSeedSpread()
    {
        var report = PrecisionBenchmark.Report([0.30, 0.34, 0.32], [0.31, 0.33, 0.32]);
        Assert.Contains("| 1 | 0.3000 | 0.3100 | +0.0100 |", report);
        Assert.Contains("| 2 | 0.3400 | 0.3300 | -0.0100 |", report);
        // |Δ| = 0.01, 0.01, 0: mean 0.0067, largest 0.01; fp32's sample standard deviation is 0.02.
        Assert.Contains("mean |bf16 − fp32| 0.0067, largest 0.0100; seed-to-seed standard deviation (fp32) 0.0200", report);
    }
}
