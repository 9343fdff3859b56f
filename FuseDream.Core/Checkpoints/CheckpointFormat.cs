namespace FuseDream.Checkpoints;

/// <summary>The on-disk formats the loaders understand.</summary>
internal enum CheckpointFormat
{
    /// <summary><c>torch.save</c> since PyTorch 1.6: a zip holding <c>data.pkl</c> and raw storages.</summary>
    TorchSaveZip,
    /// <summary><c>torch.save</c> before PyTorch 1.6: a bare pickle stream (not supported).</summary>
    TorchSaveLegacy,
    /// <summary><c>torch.jit.save</c> archive (OpenAI ships CLIP this way): a zip with <c>constants.pkl</c> and <c>code/</c>.</summary>
    TorchScript,
    /// <summary>Hugging Face safetensors: 8-byte header length, JSON header, raw data.</summary>
    Safetensors,
}
