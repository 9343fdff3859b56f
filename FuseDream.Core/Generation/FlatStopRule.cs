namespace FuseDream.Generation;

/// <summary>
/// When to end the optimisation early: after <see cref="Patience"/> measurements in a row that
/// did not beat the best measurement so far by more than <see cref="MinImprovement"/>. A
/// measurement that does beat it by more resets the count and becomes the new best; one that
/// beats it by less counts as not improving (and does not move the best, so a slow creep of
/// small gains still ends). Patience 0: never stops. Pure: feed it the measured scores in order.
/// </summary>
public sealed class FlatStopRule
{
    public FlatStopRule(int patience, double minImprovement)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        if (!(minImprovement >= 0)) throw new ArgumentOutOfRangeException(nameof(minImprovement), minImprovement, "must be at least 0");
        Patience = patience;
        MinImprovement = minImprovement;
    }

    public int Patience { get; }

    public double MinImprovement { get; }

    /// <summary>The best score that counted as an improvement (the first measurement always does); null before any.</summary>
    public double? Best { get; private set; }

    /// <summary>Measurements since the last improvement.</summary>
    public int SinceImprovement { get; private set; }

    /// <summary>Whether the rule has said stop.</summary>
    public bool ShouldStop { get; private set; }

    /// <summary>Takes the next measured score; returns true when the optimisation should end now.</summary>
    public bool Add(double score)
    {
        if (Best is null || score > Best.Value + MinImprovement)
        {
            Best = score;
            SinceImprovement = 0;
        }
        else
            SinceImprovement++;
        ShouldStop = Patience > 0 && SinceImprovement >= Patience;
        return ShouldStop;
    }

    /// <summary>How a rule ends a run: the number of the measurement (1-based) at which it stops, or null when it never does.</summary>
    public static int? StopsAt(IEnumerable<double> scores, int patience, double minImprovement)
    {
        var rule = new FlatStopRule(patience, minImprovement);
        var n = 0;
        foreach (var score in scores)
        {
            n++;
            if (rule.Add(score)) return n;
        }
        return null;
    }
}
