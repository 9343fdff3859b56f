using System.Globalization;
using System.Text;

namespace FuseDream.Worker.Commands;

/// <summary>The table and the plot of <c>bench quality</c>, from its curves (one per seed and strategy).</summary>
public static class QualityReport
{
    /// <summary>The reference strategy: the paper's start, the last step's latent.</summary>
    public const string Reference = "paper";

    public sealed record Series(string Strategy, int[] Steps, double[] Mean, double[] Sd, int Seeds);

    public sealed record Report(IReadOnlyList<Series> Series, double? Target, string Markdown);

    public static Report Summarise(IReadOnlyList<QualityBenchmark.Curve> curves, int[]? at, int patience, double minImprovement)
    {
        ArgumentNullException.ThrowIfNull(curves);
        // Only seeds every strategy finished, so each figure is over the same seeds.
        var strategies = curves.Select(c => c.Strategy).Distinct().ToList();
        var seeds = curves.GroupBy(c => c.Seed).Where(g => strategies.All(s => g.Any(c => c.Strategy == s))).Select(g => g.Key).Order().ToList();
        if (seeds.Count == 0) throw new InvalidDataException("no seed has a curve for every strategy");
        var bySeed = curves.Where(c => seeds.Contains(c.Seed)).GroupBy(c => c.Strategy).ToDictionary(g => g.Key, g => g.OrderBy(c => c.Seed).ToList());
        var steps = bySeed.Values.First()[0].Steps;
        if (bySeed.Values.SelectMany(l => l).Any(c => !c.Steps.SequenceEqual(steps)))
            throw new InvalidDataException("the curves were measured at different steps; summarise one run's curves at a time");

        var series = strategies.Select(s =>
        {
            var list = bySeed[s];
            var mean = steps.Select((_, i) => list.Average(c => c.Scores[i])).ToArray();
            var sd = steps.Select((_, i) => Sd(list.Select(c => c.Scores[i]).ToList())).ToArray();
            return new Series(s, steps, mean, sd, list.Count);
        }).ToList();

        var shown = (at is { Length: > 0 } ? at : [0, 10, 20, 30, 45, steps[^1]]).Where(steps.Contains).Distinct().Order().ToArray();
        var md = new StringBuilder();
        md.AppendLine(Invariant($"Seeds: {seeds.Count} ({string.Join(", ", seeds)})"));
        md.AppendLine();
        md.AppendLine("AugCLIP, mean ± sd over seeds, at step:");
        md.AppendLine();
        md.AppendLine("| strategy | " + string.Join(" | ", shown.Select(s => s.ToString(CultureInfo.InvariantCulture))) + " | steps to the paper's final mean |");
        md.AppendLine("|---|" + string.Concat(shown.Select(_ => "---|")) + "---|");
        var reference = series.FirstOrDefault(s => s.Strategy == Reference);
        double? target = reference?.Mean[^1];
        foreach (var s in series)
        {
            var cells = shown.Select(step => { var i = Array.IndexOf(steps, step); return Invariant($"{s.Mean[i]:0.0000} ± {s.Sd[i]:0.0000}"); });
            string reach = "n/a";
            if (target is { } t)
            {
                var first = Array.FindIndex(s.Mean, m => m >= t);
                reach = first < 0 ? Invariant($"not in {steps[^1]}") : Invariant($"{steps[first]}");
            }
            md.AppendLine($"| {s.Strategy} | {string.Join(" | ", cells)} | {reach} |");
        }
        if (target is { } tt)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"The paper strategy's final mean: {tt:0.0000} (step {steps[^1]})."));
        }

        if (reference is not null)
        {
            md.AppendLine();
            md.AppendLine("Paired difference from `paper` at the same step (same seed, basis and draws): mean ± sd, and seeds at or above it:");
            md.AppendLine();
            md.AppendLine("| strategy | " + string.Join(" | ", shown.Select(s => s.ToString(CultureInfo.InvariantCulture))) + " |");
            md.AppendLine("|---|" + string.Concat(shown.Select(_ => "---|")));
            foreach (var s in series.Where(s => s.Strategy != Reference))
            {
                var cells = shown.Select(step =>
                {
                    var i = Array.IndexOf(steps, step);
                    var d = bySeed[s.Strategy].Zip(bySeed[Reference], (a, b) => a.Scores[i] - b.Scores[i]).ToList();
                    return Invariant($"{d.Average():+0.0000;-0.0000} ± {Sd(d):0.0000} ({d.Count(x => x >= 0)}/{d.Count})");
                });
                md.AppendLine($"| {s.Strategy} | {string.Join(" | ", cells)} |");
            }
            md.AppendLine();
            md.AppendLine("Paired difference from `paper`'s final score (step " + steps[^1].ToString(CultureInfo.InvariantCulture) + ") at the same or fewer steps:");
            md.AppendLine();
            md.AppendLine("| strategy | " + string.Join(" | ", shown.Select(s => s.ToString(CultureInfo.InvariantCulture))) + " |");
            md.AppendLine("|---|" + string.Concat(shown.Select(_ => "---|")));
            foreach (var s in series.Where(s => s.Strategy != Reference))
            {
                var cells = shown.Select(step =>
                {
                    var i = Array.IndexOf(steps, step);
                    var d = bySeed[s.Strategy].Zip(bySeed[Reference], (a, b) => a.Scores[i] - b.Scores[^1]).ToList();
                    return Invariant($"{d.Average():+0.0000;-0.0000} ({d.Count(x => x >= 0)}/{d.Count})");
                });
                md.AppendLine($"| {s.Strategy} | {string.Join(" | ", cells)} |");
            }
        }

        if (patience > 0)
        {
            md.AppendLine();
            md.AppendLine(Invariant($"Stop when flat (patience {patience} measurements, min improvement {minImprovement:G}) on the trace measurements: where it would stop, and the score there:"));
            md.AppendLine();
            md.AppendLine("| strategy | stopped runs | mean stop step | AugCLIP at the stop | AugCLIP at the end |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var s in series)
            {
                var stops = bySeed[s.Strategy].Select(c =>
                {
                    // Step 0 is not a trace measurement of the pipeline; the rule sees steps 1 on.
                    var n = FuseDream.Generation.FlatStopRule.StopsAt(c.Trace.Skip(1), patience, minImprovement);
                    var i = n is { } k ? k : c.Steps.Length - 1;
                    return (Stopped: n is not null, Step: c.Steps[i], Score: c.Scores[i], End: c.Scores[^1]);
                }).ToList();
                md.AppendLine(Invariant($"| {s.Strategy} | {stops.Count(x => x.Stopped)}/{stops.Count} | {stops.Average(x => x.Step):0.0} | {stops.Average(x => x.Score):0.0000} | {stops.Average(x => x.End):0.0000} |"));
            }
        }
        return new Report(series, target, md.ToString());
    }

    /// <summary>AugCLIP against steps, one line per strategy (the mean) with a band of ± one sd.</summary>
    public static void Plot(Report report, string path)
    {
        ArgumentNullException.ThrowIfNull(report);
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < report.Series.Count; i++)
        {
            var s = report.Series[i];
            var color = palette.GetColor(i);
            var xs = s.Steps.Select(x => (double)x).ToArray();
            var band = plot.Add.FillY(xs, s.Mean.Zip(s.Sd, (m, d) => m - d).ToArray(), s.Mean.Zip(s.Sd, (m, d) => m + d).ToArray());
            band.FillColor = color.WithAlpha(0.15);
            band.LineWidth = 0;
            var line = plot.Add.Scatter(xs, s.Mean);
            line.Color = color;
            line.LineWidth = 2;
            line.MarkerSize = 4;
            line.LegendText = s.Strategy;
        }
        if (report.Target is { } target)
        {
            var h = plot.Add.HorizontalLine(target);
            h.Color = ScottPlot.Colors.Gray;
            h.LinePattern = ScottPlot.LinePattern.Dashed;
            h.LegendText = "paper's final mean";
        }
        plot.Title(Invariant($"AugCLIP against steps (mean ± sd over {report.Series[0].Seeds} seeds)"));
        plot.XLabel("optimisation step");
        plot.YLabel("AugCLIP");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        plot.SavePng(path, 900, 560);
    }

    private static double Sd(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return 0;
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
