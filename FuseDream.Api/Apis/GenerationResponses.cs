using System.Globalization;
using System.Text;
using FuseDream.Generation;
using FuseDream.Persistence;

namespace FuseDream.Api.Apis;

/// <summary>How stored generations look to clients: the response body, its links, and the list cursors.</summary>
internal static class GenerationResponses
{
    internal static string SelfUrl(Guid id) => $"/v1/generations/{id}";

    /// <summary>An opaque, URL-safe cursor for the row with this sequence number.</summary>
    public static string EncodeCursor(long sequence) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes("s:" + sequence.ToString(CultureInfo.InvariantCulture))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecodeCursor(string cursor, out long sequence)
    {
        sequence = 0;
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - base64.Length % 4) % 4);
            var text = Encoding.ASCII.GetString(Convert.FromBase64String(base64));
            return text.StartsWith("s:", StringComparison.Ordinal)
                && long.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out sequence);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    internal static GenerationResponse ToResponse(GenerationDetails details)
    {
        var record = details.Record;
        var self = SelfUrl(record.Id);
        var succeeded = record.Status == GenerationStatus.Succeeded;
        return new GenerationResponse
        {
            Id = record.Id,
            Status = record.Status.ToName(),
            Prompt = record.Prompt,
            Model = record.Model,
            Seed = record.Seed,
            Preset = record.Preset,
            Options = record.Options,
            CreatedAt = record.CreatedAt,
            StartedAt = record.StartedAt,
            FinishedAt = record.FinishedAt,
            QueuePosition = details.QueuePosition,
            Progress = record.Status == GenerationStatus.Running && record.Progress is { } p
                ? new ProgressResponse(
                    JsonNamingPolicyName(p.Phase), p.Step, p.Total,
                    p.Total > 0 ? Math.Round(100.0 * p.Step / p.Total, 1) : 0,
                    p.AugClip, p.Eta?.TotalSeconds, p.UpdatedAt) { Component = p.Component, Components = p.Components }
                : null,
            CancelRequested = record.CancelRequested,
            Result = succeeded ? new ResultResponse(record.Score ?? 0, record.Seed, $"{self}/image", $"{self}/trace") : null,
            Previews = [.. details.Previews.Select(pr => new PreviewLink(pr.Step, $"{self}/previews/{pr.Step}"))],
            PreviewCount = details.PreviewCount,
            Error = record.Error,
            Components = record.Scene is { } scene ? [.. scene.Components.Select(ComponentInput.From)] : null,
            Composition = record.Scene?.Composition,
            Links = new GenerationLinks(self, $"{self}/cancel", succeeded ? $"{self}/image" : null, succeeded ? $"{self}/trace" : null, $"{self}/previews")
            {
                Components = succeeded && record.Scene is not null && record.ComponentImageKeys.Count > 0
                    ? [.. Enumerable.Range(0, record.ComponentImageKeys.Count).Select(i => $"{self}/components/{i}")]
                    : null,
                Composite = succeeded && record.CompositeImageKey is not null ? $"{self}/composite" : null,
            },
        };
    }

    private static string JsonNamingPolicyName(GenerationPhase phase) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(phase.ToString());
}
