using System.Text.Json;
using System.Text.Json.Serialization;
using FuseDream.Imaging;
using static TorchSharp.torch;

namespace FuseDream.Generation;

/// <summary>
/// A generated image as a PNG that carries its provenance in two text chunks:
/// <c>parameters</c> (A1111 style, for people and tools) and <c>fusedream</c> (JSON, the exact record).
/// </summary>
internal static class ProvenancePng
{
    public const string ParametersKeyword = "parameters";
    public const string ProvenanceKeyword = "fusedream";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Encodes an image [1, 3, H, W] or [3, H, W] in [-1, 1] with its provenance.</summary>
    public static byte[] Encode(Tensor image, ImageProvenance provenance)
    {
        ArgumentNullException.ThrowIfNull(provenance);
        return PngImage.Encode(image,
        [
            new(ParametersKeyword, GenerationParameters.Format(provenance)),
            new(ProvenanceKeyword, JsonSerializer.Serialize(provenance, Json)),
        ]);
    }

    /// <summary>Reads the embedded provenance back; either part may be absent (a PNG from elsewhere).</summary>
    /// <exception cref="InvalidDataException">Not a PNG, or a <c>fusedream</c> chunk that is not provenance JSON.</exception>
    public static PngProvenance Read(Stream png)
    {
        var text = PngImage.ReadText(png);
        text.Chunks.TryGetValue(ParametersKeyword, out var parameters);
        text.Chunks.TryGetValue(ProvenanceKeyword, out var json);
        ImageProvenance? provenance = null;
        if (!string.IsNullOrEmpty(json))
        {
            try { provenance = JsonSerializer.Deserialize<ImageProvenance>(json, Json); }
            catch (JsonException ex) { throw new InvalidDataException($"the '{ProvenanceKeyword}' chunk is not valid provenance JSON: {ex.Message}", ex); }
        }
        return new PngProvenance(string.IsNullOrEmpty(parameters) ? null : parameters, provenance, text.Width, text.Height);
    }

    public static PngProvenance Read(byte[] png)
    {
        using var stream = new MemoryStream(png, writable: false);
        return Read(stream);
    }
}

/// <summary>What a generated PNG carries: the A1111 text, the exact record, and its size.</summary>
internal sealed record PngProvenance(string? Parameters, ImageProvenance? Provenance, int Width, int Height);
