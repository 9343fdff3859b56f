using System.Buffers.Binary;
using FuseDream.Worker.Commands;
using Curve = FuseDream.Worker.Commands.QualityBenchmark.Curve;

namespace FuseDream.Tests.Generation;

/// <summary><c>bench quality</c>'s summary and plot, on hand-made curves.</summary>
public sealed class QualityReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fusedream-quality-").FullName;
    private static readonly int[] Steps = [0, 10, 20, 30];

    private static Curve C(long seed, string strategy, params double[] scores) => new(seed, strategy, Steps, scores, scores);

    private static readonly Curve[] Curves =
    [
        C(1, "paper", 0.20, 0.22, 0.24, 0.26),
        C(2, "paper", 0.22, 0.24, 0.26, 0.28),
        C(1, "best", 0.25, 0.27, 0.28, 0.28),
        C(2, "best", 0.25, 0.26, 0.27, 0.29),
        // A seed only one strategy finished is left out of every figure.
        C(3, "paper", 0.9, 0.9, 0.9, 0.9),
    ];

    [Fact]
    public void Summary_GivesMeansOverCommonSeeds_StepsToThePapersFinalMean_AndPairedDifferences()
    {
        var report = QualityReport.Summarise(Curves, [0, 20, 30], patience: 0, minImprovement: 0);

        Assert.Equal(0.27, report.Target!.Value, 9); // paper's mean at step 30 over seeds 1 and 2
        var best = report.Series.Single(s => s.Strategy == "best");
        Assert.Equal(2, best.Seeds);
        Assert.Equal([0.25, 0.265, 0.275, 0.285], best.Mean.Select(m => Math.Round(m, 9)));
        Assert.Contains("Seeds: 2 (1, 2)", report.Markdown);
        // best's mean first reaches 0.27 at step 20; paper only at its last step.
        Assert.Contains("| best | 0.2500 ± 0.0000 | 0.2750 ± 0.0071 | 0.2850 ± 0.0071 | 20 |", report.Markdown);
        Assert.Contains("| paper | 0.2100 ± 0.0141 | 0.2500 ± 0.0141 | 0.2700 ± 0.0141 | 30 |", report.Markdown);
        // Paired at step 20: 0.28 − 0.24 and 0.27 − 0.26 → +0.025 ± 0.0212, both seeds at or above.
        Assert.Contains("+0.0250 ± 0.0212 (2/2)", report.Markdown);
    }

    [Fact]
    public void Summary_ShowsWhereTheFlatRuleWouldStop()
    {
        var report = QualityReport.Summarise(Curves, null, patience: 1, minImprovement: 0.005);
        // Seed 1's best run: trace 0.27, 0.28, 0.28 from step 10 → the rule stops at step 30 (the 3rd).
        // Seed 2's: 0.26, 0.27, 0.29 → never stops. Paper never stops on either seed.
        Assert.Contains("| best | 1/2 | 30.0 | 0.2850 | 0.2850 |", report.Markdown);
        Assert.Contains("| paper | 0/2 | 30.0 | 0.2700 | 0.2700 |", report.Markdown);
    }

    [Fact]
    public void Plot_IsAPng_RenderedHeadless()
    {
        var path = Path.Combine(_dir, "plot.png");
        QualityReport.Plot(QualityReport.Summarise(Curves, null, 0, 0), path);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        Assert.Equal(900, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(560, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.True(bytes.Length > 10_000, $"{bytes.Length} bytes: a plot with lines, bands and labels is larger");
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
