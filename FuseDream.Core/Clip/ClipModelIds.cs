namespace FuseDream.Clip;

/// <summary>
/// The id a loaded CLIP is known by (in requests' <c>clips</c>, <c>/v1/models</c> and the model
/// store): the catalog's id for OpenAI's released shapes, read off the configuration the
/// checkpoint gave; a descriptive id for any other shape (the test fixtures' tiny models).
/// </summary>
public static class ClipModelIds
{
    public const string VitB32 = "clip-vit-b-32";
    public const string VitB16 = "clip-vit-b-16";
    public const string VitL14 = "clip-vit-l-14";
    public const string VitL14At336 = "clip-vit-l-14-336";

    public static string Of(ClipConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config == ClipConfig.VitB32) return VitB32;
        if (config == ClipConfig.VitB16) return VitB16;
        if (config == ClipConfig.VitL14) return VitL14;
        if (config == ClipConfig.VitL14 with { ImageResolution = 336 }) return VitL14At336;
        return $"clip-vit-w{config.VisionWidth}-p{config.VisionPatchSize}-r{config.ImageResolution}";
    }
}
