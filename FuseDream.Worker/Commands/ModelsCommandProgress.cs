using System.Diagnostics;
using FuseDream.Models;

namespace FuseDream.Worker.Commands;

/// <summary>
/// Renders download progress on stderr: a redrawn bar (bytes, percent, rate, ETA) on a terminal,
/// and a plain line every 10 s or 10 % when stderr is a file or a pipe (container logs).
/// </summary>
internal sealed class ConsoleDownloadProgress(TextWriter writer, bool interactive) : IProgress<DownloadProgress>
{
    private static readonly TimeSpan LineInterval = TimeSpan.FromSeconds(10);
    private readonly Stopwatch _sinceLine = Stopwatch.StartNew();
    private int _lastDecile = -1;
    private bool _barDrawn;
    private string? _url;

    public void Report(DownloadProgress value)
    {
        lock (writer)
        {
            if (value.Url != _url)
            {
                if (_barDrawn)
                    writer.WriteLine();
                _barDrawn = false;
                _url = value.Url;
                _lastDecile = -1;
                writer.WriteLine($"{value.ModelId}: downloading {value.Url}");
            }
            if (interactive)
            {
                writer.Write("\r" + Bar(value));
                _barDrawn = true;
                if (value.Completed)
                {
                    writer.WriteLine();
                    _barDrawn = false;
                }
                return;
            }
            var decile = value.Fraction is double f ? (int)(f * 10) : -1;
            if (value.Completed || decile > _lastDecile || _sinceLine.Elapsed >= LineInterval)
            {
                writer.WriteLine($"{value.ModelId}: {Line(value)}");
                _lastDecile = Math.Max(_lastDecile, decile);
                _sinceLine.Restart();
            }
        }
    }

    /// <summary>Ends a bar left open by an interrupted download so the next message starts on its own line.</summary>
    public void Finish()
    {
        lock (writer)
        {
            if (_barDrawn)
                writer.WriteLine();
            _barDrawn = false;
        }
    }

    internal static string Bar(DownloadProgress p)
    {
        const int width = 30;
        var filled = p.Fraction is double f ? (int)Math.Round(f * width) : 0;
        var bar = p.Fraction is null ? new string('?', width) : new string('#', filled) + new string('.', width - filled);
        return $"[{bar}] {Line(p)}".PadRight(100);
    }

    internal static string Line(DownloadProgress p)
    {
        var amount = p.TotalBytes is long total
            ? $"{p.Fraction:P0} {ModelText.FormatBytes(p.BytesReceived)} / {ModelText.FormatBytes(total)}"
            : ModelText.FormatBytes(p.BytesReceived);
        var eta = p.Completed ? "done" : p.Eta is TimeSpan t ? $"ETA {(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : "ETA ?";
        return $"{amount}  {ModelText.FormatBytes(p.BytesPerSecond)}/s  {eta}";
    }
}
