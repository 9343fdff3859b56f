namespace FuseDream.Generation;

/// <summary>
/// Which steps get a preview. <see cref="GenerationOptions.PreviewEvery"/> asks for one every
/// that many steps; a run stores at most <see cref="MaxPreviews"/>, evenly spaced: the interval
/// is widened to ⌈Steps ÷ MaxPreviews⌉ when the request's is narrower. previewEvery = 1 over
/// 10,000 steps therefore stores the steps 200, 400, …, 10,000.
/// </summary>
public static class PreviewSchedule
{
    public const int MaxPreviews = 50;

    /// <summary>The interval between previews actually written (0: none).</summary>
    public static int Interval(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.PreviewEvery <= 0 || options.Steps <= 0) return 0;
        var widest = (options.Steps + MaxPreviews - 1) / MaxPreviews;
        return Math.Max(options.PreviewEvery, widest);
    }

    /// <summary>Whether step <paramref name="step"/> (1-based) writes a preview.</summary>
    public static bool IsPreviewStep(GenerationOptions options, int step) =>
        Interval(options) is > 0 and var interval && step % interval == 0;
}
