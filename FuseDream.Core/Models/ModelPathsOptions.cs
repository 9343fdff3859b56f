namespace FuseDream.Models;

/// <summary>Where the worker finds the pretrained weights (configuration section <c>Models</c>).</summary>
public sealed class ModelPathsOptions
{
    public const string Section = "Models";

    /// <summary>CLIP weights (OpenAI TorchScript <c>.pt</c> or a state dict). Setting <c>Models:Clip</c>.</summary>
    public string? Clip { get; set; }

    /// <summary>
    /// Further CLIP checkpoints (<c>Models:ExtraClips:0</c>, <c>:1</c>, …; env <c>Models__ExtraClips__0</c>):
    /// loaded beside <see cref="Clip"/>, which stays the default, so that requests may name them in
    /// <c>clips</c> for an ensemble. Each is known by its shape's id (<c>clip-vit-b-16</c>, <c>clip-vit-l-14</c>, …).
    /// </summary>
    public List<string> ExtraClips { get; set; } = [];

    /// <summary>BigGAN 256 generator state dict. Setting <c>Models:BigGan256</c>; optional if only biggan-512 is served.</summary>
    public string? BigGan256 { get; set; }

    /// <summary>BigGAN 512 generator state dict. Setting <c>Models:BigGan512</c>; optional if only biggan-256 is served.</summary>
    public string? BigGan512 { get; set; }

    /// <summary>
    /// Where the models run (<c>Models:Device</c>): <c>auto</c> (default: worker thread i on
    /// <c>cuda:i</c> when CUDA is available, else the CPU), <c>cpu</c>, or <c>cuda</c> (thread i on <c>cuda:i</c>).
    /// </summary>
    public string Device { get; set; } = "auto";

    /// <summary>
    /// What the models compute in (<c>Models:Precision</c>): <c>auto</c> (default: bf16 on CUDA
    /// and on a CPU with native bf16, else fp32; <see cref="ModelPrecision.ChooseDefault(TorchSharp.torch.Device)"/>), <c>fp32</c> (exact) or <c>bf16</c> (see <see cref="ModelPrecision"/>).
    /// A worker setting, not a request option: the weights are converted once when they are loaded.
    /// </summary>
    public string Precision { get; set; } = ModelPrecision.Auto;

    /// <summary>
    /// Model-store id of the CLIP model used when <see cref="Clip"/> is not set
    /// (<c>Models:ClipModel</c>, default <c>clip-vit-b-32</c>, the paper's choice).
    /// </summary>
    public string ClipModel { get; set; } = ModelResolver.DefaultClipModel;

    /// <summary>
    /// Download missing models from the catalog's sources at worker start (<c>Models:AutoPull</c>,
    /// default false: a missing model is a start-up error naming the <c>models pull</c> command).
    /// </summary>
    public bool AutoPull { get; set; }

    /// <summary>The model store's directory, filled in at start; named in errors.</summary>
    public string? StoreDirectory { get; set; }

    /// <summary>Model ids whose generator file is configured.</summary>
    public IReadOnlyList<string> ConfiguredModels =>
        [.. new[] { (Generation.GenerationOptions.Models.BigGan256, BigGan256), (Generation.GenerationOptions.Models.BigGan512, BigGan512) }
            .Where(m => !string.IsNullOrWhiteSpace(m.Item2)).Select(m => m.Item1)];

    /// <summary>Every problem as a sentence naming the setting, its environment variable and the file; empty when usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        CheckFile(errors, nameof(Clip), Clip, required: true);
        for (var i = 0; i < ExtraClips.Count; i++)
            CheckFile(errors, $"{nameof(ExtraClips)}:{i}", ExtraClips[i], required: true);
        CheckFile(errors, nameof(BigGan256), BigGan256, required: false);
        CheckFile(errors, nameof(BigGan512), BigGan512, required: false);
        if (DeviceSelector.CheckWorkerSetting(Device, $"{Section}:Device (env {Section}__Device)") is { } deviceError)
            errors.Add(deviceError);
        if (ModelPrecision.CheckSetting(Precision, $"{Section}:Precision (env {Section}__Precision)") is { } precisionError)
            errors.Add(precisionError);
        if (string.IsNullOrWhiteSpace(BigGan256) && string.IsNullOrWhiteSpace(BigGan512))
            errors.Add($"No generator is configured and none is in the model store{StoreHint}: run `dotnet run --project FuseDream.Worker -- models pull biggan-256` " +
                       "(or biggan-512), set Models:AutoPull=true, or set Models:BigGan256 (env Models__BigGan256) and/or Models:BigGan512 (env Models__BigGan512) to a BigGAN state dict (.pth).");
        return errors;
    }

    private string StoreHint => StoreDirectory is null ? "" : $" ({StoreDirectory})";

    private void CheckFile(List<string> errors, string key, string? path, bool required)
    {
        var setting = $"{Section}:{key} (env {Section}__{key.Replace(":", "__", StringComparison.Ordinal)})";
        if (string.IsNullOrWhiteSpace(path))
        {
            if (required)
                errors.Add($"{setting} is not set and the model is not in the model store{StoreHint}: " +
                           $"run `dotnet run --project FuseDream.Worker -- models pull {ClipModel}`, set Models:AutoPull=true, or point {setting} at the file.");
            return;
        }
        if (!File.Exists(path))
            errors.Add($"{setting} names '{Path.GetFullPath(path)}', which does not exist.");
    }
}
