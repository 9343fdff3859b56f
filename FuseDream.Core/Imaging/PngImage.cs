using System.Text.Json;
using System.Text.Json.Serialization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace FuseDream.Imaging;

/// <summary>
/// Generator output → PNG, with the provenance embedded as two text chunks: <c>parameters</c>
/// (A1111 style, for people and tools) and <c>fusedream</c> (JSON, the exact record).
/// Pixels map [-1, 1] → [0, 255] as <c>(x + 1) / 2 · 255 + 0.5</c>, clamped and truncated
/// (torchvision's <c>save_image</c> rounding). Deliberate difference: the original saves with
/// <c>normalize=True</c> (per-image min–max stretch); we keep the fixed [-1, 1] range, which is
/// what CLIP scored.
/// </summary>
public static class PngImage
{
    public const string ParametersKeyword = "parameters";
    public const string ProvenanceKeyword = "fusedream";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Encodes an image [1, 3, H, W] or [3, H, W] with values in [-1, 1].</summary>
    public static byte[] Encode(Tensor image, ImageProvenance? provenance = null)
    {
        var (pixels, width, height) = ToRgb24(image);
        using var img = Image.LoadPixelData<Rgb24>(pixels, width, height);
        if (provenance is not null)
        {
            var png = img.Metadata.GetPngMetadata();
            png.TextData.Add(new PngTextData(ParametersKeyword, GenerationParameters.Format(provenance), string.Empty, string.Empty));
            png.TextData.Add(new PngTextData(ProvenanceKeyword, JsonSerializer.Serialize(provenance, Json), string.Empty, string.Empty));
        }
        using var stream = new MemoryStream();
        img.Save(stream, new PngEncoder
        {
            ColorType = PngColorType.Rgb,
            BitDepth = PngBitDepth.Bit8,
            // Keep the text chunks uncompressed tEXt (iTXt for non-Latin-1 prompts), as A1111 does.
            TextCompressionThreshold = int.MaxValue,
        });
        return stream.ToArray();
    }

    /// <summary>Reads the embedded provenance back; either part may be absent (a PNG from elsewhere).</summary>
    public static PngProvenance ReadProvenance(Stream png)
    {
        ArgumentNullException.ThrowIfNull(png);
        var info = Image.Identify(png)
            ?? throw new InvalidDataException("not an image this program can read (expected a PNG)");
        var text = info.Metadata.GetPngMetadata().TextData;
        var parameters = text.FirstOrDefault(t => t.Keyword == ParametersKeyword).Value;
        var json = text.FirstOrDefault(t => t.Keyword == ProvenanceKeyword).Value;
        ImageProvenance? provenance = null;
        if (!string.IsNullOrEmpty(json))
        {
            try { provenance = JsonSerializer.Deserialize<ImageProvenance>(json, Json); }
            catch (JsonException ex) { throw new InvalidDataException($"the '{ProvenanceKeyword}' chunk is not valid provenance JSON: {ex.Message}", ex); }
        }
        return new PngProvenance(string.IsNullOrEmpty(parameters) ? null : parameters, provenance, info.Width, info.Height);
    }

    public static PngProvenance ReadProvenance(byte[] png)
    {
        using var stream = new MemoryStream(png, writable: false);
        return ReadProvenance(stream);
    }

    /// <summary>Decodes a PNG to a float tensor [1, 3, H, W] in [-1, 1] (the inverse of <see cref="Encode"/> up to quantisation).</summary>
    public static Tensor Decode(byte[] png)
    {
        using var img = Image.Load<Rgb24>(png);
        var pixels = new byte[img.Width * img.Height * 3];
        img.CopyPixelDataTo(pixels);
        using var scope = NewDisposeScope();
        var hwc = tensor(pixels).view(img.Height, img.Width, 3); // [height, width, 3] uint8
        var chw = hwc.permute(2, 0, 1).unsqueeze(0).to(float32); // [1, 3, height, width]
        return (chw / 255 * 2 - 1).MoveToOuterDisposeScope();
    }

    private static (byte[] Pixels, int Width, int Height) ToRgb24(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var scope = NewDisposeScope();
        var chw = image.dim() switch
        {
            4 when image.shape[0] == 1 => image[0],
            3 => image,
            _ => throw new ArgumentException($"expected one image [1, 3, H, W] or [3, H, W], got shape [{string.Join(", ", image.shape)}]", nameof(image)),
        };
        if (chw.shape[0] != 3)
            throw new ArgumentException($"expected 3 colour channels, got {chw.shape[0]}", nameof(image));
        var bytes = chw.detach().to(float32).cpu()
            .add(1).div(2).mul(255).add(0.5).clamp(0, 255)
            .to(ScalarType.Byte)
            .permute(1, 2, 0).contiguous(); // [height, width, 3]
        return (bytes.data<byte>().ToArray(), (int)chw.shape[2], (int)chw.shape[1]);
    }
}

/// <summary>What a PNG carries: the A1111 text, the exact record, and its size.</summary>
public sealed record PngProvenance(string? Parameters, ImageProvenance? Provenance, int Width, int Height);
