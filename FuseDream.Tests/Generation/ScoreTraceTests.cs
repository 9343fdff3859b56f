using FuseDream.Generation;

namespace FuseDream.Tests.Generation;

public class ScoreTraceTests
{
    [Fact]
    public void Json_RoundTrips()
    {
        var trace = new ScoreTrace
        {
            Prompt = "a corgi",
            Seed = 42,
            Options = GenerationPresets.Balanced,
            BasisScores = [0.31, 0.30],
            BasisAugClip = 0.25,
            Points = [new TracePoint(1, -0.2, null), new TracePoint(2, -0.21, 0.22)],
            FinalAugClip = 0.27,
        };
        var back = ScoreTrace.FromJson(trace.ToJson());
        Assert.Equal(trace.Prompt, back.Prompt);
        Assert.Equal(trace.Seed, back.Seed);
        Assert.Equal(trace.Options, back.Options);
        Assert.Equal(trace.BasisScores, back.BasisScores);
        Assert.Equal(trace.Points, back.Points);
        Assert.Equal(trace.FinalAugClip, back.FinalAugClip);
        Assert.Equal(trace.BasisAugClip, back.BasisAugClip);
    }

    [Fact]
    public void Garbage_IsRejected_SayingWhat()
    {
        var ex = Assert.Throws<InvalidDataException>(() => ScoreTrace.FromJson("{\"prompt\": 3}"));
        Assert.Contains("score trace", ex.Message);
    }
}
