using Hangfire;

namespace FuseDream.Tests.Support;

/// <summary>
/// Waits on Hangfire's own record of a job instead of sleeping: once a job is in a state it
/// never leaves by itself (Succeeded, Deleted, or Failed with retries exhausted), no further
/// run can happen, so "it ran once" can be asserted at that moment.
/// </summary>
public static class HangfireJobs
{
    /// <summary>The job's current state name (null if the job is unknown).</summary>
    public static string? StateOf(JobStorage storage, string jobId)
    {
        using var connection = storage.GetConnection();
        return connection.GetJobData(jobId)?.State;
    }

    /// <summary>The job's state names, oldest first (Hangfire's monitoring API lists them newest first).</summary>
    public static IReadOnlyList<string> HistoryOf(JobStorage storage, string jobId) =>
        [.. storage.GetMonitoringApi().JobDetails(jobId)?.History.Select(h => h.StateName).Reverse() ?? []];

    /// <summary>Polls until the job is in one of <paramref name="states"/>; returns its history, oldest first.</summary>
    public static async Task<IReadOnlyList<string>> WaitForStateAsync(JobStorage storage, string jobId, TimeSpan timeout, params string[] states)
    {
        if (states.Length == 0) throw new ArgumentException("Name at least one state to wait for.", nameof(states));
        var deadline = DateTime.UtcNow + timeout;
        string? state;
        do
        {
            state = StateOf(storage, jobId);
            if (state is not null && states.Contains(state)) return HistoryOf(storage, jobId);
            await Task.Delay(25);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"job {jobId} did not reach {string.Join(" or ", states)} within {timeout}; state {state ?? "none"}, history: {string.Join(", ", HistoryOf(storage, jobId))}");
        return [];
    }

    /// <summary>Polls until the job has been in <paramref name="state"/> at least <paramref name="times"/> times; returns its history, oldest first.</summary>
    public static async Task<IReadOnlyList<string>> WaitForHistoryAsync(JobStorage storage, string jobId, string state, int times, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        IReadOnlyList<string> history;
        do
        {
            history = HistoryOf(storage, jobId);
            if (history.Count(s => s == state) >= times) return history;
            await Task.Delay(25);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"job {jobId} was not {state} {times} time(s) within {timeout}; history: {string.Join(", ", history)}");
        return history;
    }
}
