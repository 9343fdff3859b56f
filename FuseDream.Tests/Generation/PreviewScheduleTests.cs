using FuseDream.Generation;

namespace FuseDream.Tests.Generation;

public class PreviewScheduleTests
{
    private static int[] PreviewSteps(GenerationOptions options) =>
        [.. Enumerable.Range(1, options.Steps).Where(step => PreviewSchedule.IsPreviewStep(options, step))];

    [Fact]
    public void EveryStep_Over10000Steps_StoresFiftyEvenlySpaced()
    {
        var steps = PreviewSteps(new GenerationOptions { Steps = 10_000, PreviewEvery = 1 });
        Assert.Equal(PreviewSchedule.MaxPreviews, steps.Length);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => i * 200), steps);
    }

    [Theory]
    [InlineData(1000, 1, 20, 50)]
    [InlineData(1000, 100, 100, 10)]  // within the cap: the request's own interval
    [InlineData(120, 1, 3, 40)]
    [InlineData(10, 1, 1, 10)]
    [InlineData(1000, 0, 0, 0)]
    [InlineData(0, 5, 0, 0)]
    public void Interval_IsTheRequestsOrWiderSoAtMostFiftyAreStored(int steps, int previewEvery, int interval, int count)
    {
        var options = new GenerationOptions { Steps = steps, PreviewEvery = previewEvery };
        Assert.Equal(interval, PreviewSchedule.Interval(options));
        Assert.Equal(count, PreviewSteps(options).Length);
        Assert.True(PreviewSteps(options).Length <= PreviewSchedule.MaxPreviews);
    }
}
