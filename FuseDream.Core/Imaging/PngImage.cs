using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace FuseDream.Imaging;

/// <summary>
/// Generator output ↔ PNG, with text chunks (the provenance is written by
/// <see cref="Generation.ProvenancePng"/>). Pixels map [-1, 1] → [0, 255] as <c>(x + 1) / 2 · 255 + 0.5</c>, clamped and truncated
/// (torchvision's <c>save_image</c> rounding). Deliberate difference: the original saves with
/// <c>normalize=True</c> (per-image min–max stretch); we keep the fixed [-1, 1] range, which is
/// what CLIP scored.
/// </summary>
internal static class PngImage
{
    /// <summary>
    /// Encodes an image [1, 3, H, W] or [3, H, W] with values in [-1, 1], with optional text
    /// chunks (keyword → text) kept uncompressed, as A1111 does.
    /// </summary>
    public static byte[] Encode(Tensor image, IReadOnlyList<KeyValuePair<string, string>>? text = null)
    {
        var (pixels, width, height) = ToRgb24(image);
        using var img = Image.LoadPixelData<Rgb24>(pixels, width, height);
        if (text is not null)
        {
            var png = img.Metadata.GetPngMetadata();
            foreach (var (keyword, value) in text)
                png.TextData.Add(new PngTextData(keyword, value, string.Empty, string.Empty));
        }
        using var stream = new MemoryStream();
        img.Save(stream, new PngEncoder
        {
            ColorType = PngColorType.Rgb,
            BitDepth = PngBitDepth.Bit8,
            // Keep the text chunks uncompressed tEXt (iTXt for non-Latin-1 text).
            TextCompressionThreshold = int.MaxValue,
        });
        return stream.ToArray();
    }

    /// <summary>The text chunks (first of each keyword) and the size of a PNG, without decoding its pixels.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an image this program can read.</exception>
    public static PngText ReadText(Stream png)
    {
        ArgumentNullException.ThrowIfNull(png);
        IImageInfo? info;
        try { info = Image.Identify(png); }
        catch (UnknownImageFormatException ex) { throw new InvalidDataException("not an image this program can read (expected a PNG)", ex); }
        if (info is null) throw new InvalidDataException("not an image this program can read (expected a PNG)");
        var text = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var chunk in info.Metadata.GetPngMetadata().TextData)
            text.TryAdd(chunk.Keyword, chunk.Value);
        return new PngText(text, info.Width, info.Height);
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

/// <summary>A PNG's text chunks by keyword, and its size.</summary>
internal sealed record PngText(IReadOnlyDictionary<string, string> Chunks, int Width, int Height);
