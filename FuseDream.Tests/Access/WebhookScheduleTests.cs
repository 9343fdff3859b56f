using FuseDream.Webhooks;

namespace FuseDream.Tests.Access;

/// <summary>
/// A webhook retry's due time: Hangfire's scheduler compares due times in whole seconds
/// (truncated), so the due time is rounded up and a retry never comes before its back-off.
/// </summary>
public class WebhookScheduleTests
{
    [Theory]
    [InlineData(0, 150)]
    [InlineData(999, 150)]
    [InlineData(850, 150)]
    [InlineData(123, 300)]
    [InlineData(0, 10_000)]
    [InlineData(400, 2_600)]
    public void ARetryIsDue_OnAWholeSecond_NoEarlierThanItsWait(int nowMilliseconds, int waitMilliseconds)
    {
        var now = new DateTime(2026, 11, 29, 19, 0, 0, DateTimeKind.Utc).AddMilliseconds(nowMilliseconds);
        var wait = TimeSpan.FromMilliseconds(waitMilliseconds);

        var due = WebhookJobs.DueAfter(wait, now);

        Assert.Equal(DateTimeKind.Utc, due.Kind);
        Assert.Equal(0, due.Ticks % TimeSpan.TicksPerSecond);
        Assert.True(due >= now + wait, $"due {due:O} before {now + wait:O}");
        Assert.True(due - (now + wait) < TimeSpan.FromSeconds(1), $"due {due:O} a second or more after {now + wait:O}");
    }
}
