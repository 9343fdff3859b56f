using FuseDream.Generation;

namespace FuseDream.Tests.Generation;

/// <summary>The stop-when-flat rule on scripted score sequences.</summary>
public sealed class FlatStopRuleTests
{
    [Theory]
    // Rises by more than ε every time: never stops.
    [InlineData(new[] { 0.1, 0.2, 0.3, 0.4, 0.5 }, 2, 0.01, null)]
    // Flat from the second measurement: the 2nd and 3rd do not improve → stops at the 3rd.
    [InlineData(new[] { 0.3, 0.3, 0.3, 0.3 }, 2, 0.01, 3)]
    // Gains of 0.004 each, 0.012 in all, stay within ε = 0.02 of the first: no improvement, though each is a new high.
    [InlineData(new[] { 0.300, 0.304, 0.308, 0.312 }, 3, 0.02, 4)]
    // ... while the same creep with ε = 0.001 never stops.
    [InlineData(new[] { 0.300, 0.304, 0.308, 0.312 }, 3, 0.001, null)]
    // A real improvement resets the count: 0.5 (1 flat), 0.6 (reset), then 3 flat → stops at the 6th.
    [InlineData(new[] { 0.4, 0.4, 0.5, 0.5, 0.5, 0.5, 0.9 }, 3, 0.01, 6)]
    // A creep is measured against the last real improvement (0.40): 0.405, 0.409 count as flat,
    // 0.411 beats 0.40 + 0.01 → reset; then three flat → stops at the 7th.
    [InlineData(new[] { 0.40, 0.405, 0.409, 0.411, 0.41, 0.40, 0.40 }, 3, 0.01, 7)]
    // A drop is not an improvement.
    [InlineData(new[] { 0.5, 0.2, 0.1 }, 2, 0.0, 3)]
    // Patience 0: never stops.
    [InlineData(new[] { 0.5, 0.5, 0.5, 0.5 }, 0, 0.01, null)]
    // Patience 1, ε 0: the first measurement that is not strictly higher stops it.
    [InlineData(new[] { 0.1, 0.2, 0.2 }, 1, 0.0, 3)]
    public void StopsExactlyWhereTheRuleSays(double[] scores, int patience, double minImprovement, int? expected)
    {
        Assert.Equal(expected, FlatStopRule.StopsAt(scores, patience, minImprovement));
    }

    [Fact]
    public void TracksTheBestAndTheCountSinceIt()
    {
        var rule = new FlatStopRule(3, 0.01);
        Assert.Null(rule.Best);
        Assert.False(rule.Add(0.2));
        Assert.Equal((0.2, 0), (rule.Best!.Value, rule.SinceImprovement));
        Assert.False(rule.Add(0.205));
        Assert.Equal((0.2, 1), (rule.Best!.Value, rule.SinceImprovement));
        Assert.False(rule.Add(0.25));
        Assert.Equal((0.25, 0), (rule.Best!.Value, rule.SinceImprovement));
        Assert.False(rule.Add(0.1));
        Assert.False(rule.Add(0.1));
        Assert.True(rule.Add(0.1));
        Assert.True(rule.ShouldStop);
    }

    [Fact]
    public void RejectsANegativePatienceOrImprovement()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlatStopRule(-1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlatStopRule(1, -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlatStopRule(1, double.NaN));
    }
}
