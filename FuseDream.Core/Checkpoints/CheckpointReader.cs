using System.IO.Compression;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace FuseDream.Checkpoints;

/// <summary>
/// Reads the tensors of a checkpoint file into a name → tensor map, whatever its format.
/// Tensors keep their stored dtype (fp16 stays fp16); the model loaders convert.
/// Nothing here executes code from the file: TorchScript graphs are never run.
/// </summary>
internal static class CheckpointReader
{
    /// <summary>Detects the format from the file's first bytes and its zip entries.</summary>
    public static CheckpointFormat DetectFormat(string path)
    {
        EnsureExists(path);
        using var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[8];
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
        {
            stream.Position = 0;
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            var isScript = zip.Entries.Any(e => e.FullName.EndsWith("/constants.pkl", StringComparison.Ordinal)
                                             || e.FullName.Contains("/code/", StringComparison.Ordinal));
            return isScript ? CheckpointFormat.TorchScript : CheckpointFormat.TorchSaveZip;
        }
        if (read >= 2 && head[0] == 0x80 && head[1] <= 5)
            return CheckpointFormat.TorchSaveLegacy;
        if (read == 8)
        {
            var headerLength = BitConverter.ToUInt64(head);
            if (headerLength > 1 && headerLength < 100_000_000 && stream.Length >= 8 + (long)headerLength)
            {
                var first = stream.ReadByte();
                if (first == '{') return CheckpointFormat.Safetensors;
            }
        }
        throw new InvalidDataException(
            $"'{path}' is not a checkpoint this program can read: expected a torch.save zip, a TorchScript archive or a safetensors file.");
    }

    /// <summary>
    /// Reads every tensor (parameters and buffers) of the file. The caller owns the tensors.
    /// A TorchScript archive is opened with <c>jit.load</c> only when <paramref name="allowTorchScript"/>:
    /// callers pass false for files nobody vouched for (a generator, a download without a published checksum).
    /// </summary>
    public static Dictionary<string, Tensor> ReadTensors(string path, bool allowTorchScript = true)
    {
        var format = DetectFormat(path);
        return format switch
        {
            CheckpointFormat.TorchSaveZip => ReadTorchSave(path),
            CheckpointFormat.TorchScript when allowTorchScript => ReadTorchScript(path),
            CheckpointFormat.TorchScript => throw new InvalidDataException(
                $"'{path}' is a TorchScript archive; only OpenAI's CLIP archives with their published SHA-256 are opened as TorchScript, so it was not."),
            CheckpointFormat.Safetensors => ReadSafetensors(path),
            CheckpointFormat.TorchSaveLegacy => throw new NotSupportedException(
                $"'{path}' was written by torch.save before PyTorch 1.6 (legacy pickle format), which this program cannot read. " +
                "Convert it once with Python: torch.save(torch.load(old_path), new_path) using PyTorch 1.6 or newer."),
            _ => throw new InvalidDataException($"Unsupported checkpoint format {format} for '{path}'."),
        };
    }

    /// <summary>
    /// Names, element types and shapes of the file's tensors, for checking a file before it is
    /// loaded, without reading any tensor data: a safetensors file from its header, a
    /// <c>torch.save</c> zip from the sizes of its storage entries (bounded by
    /// <paramref name="maxTensorBytes"/>) and its pickle (a restricted reader: no code from the
    /// file runs). TorchScript archives are refused.
    /// </summary>
    public static Dictionary<string, TensorInfo> ReadInfos(string path, long maxTensorBytes)
    {
        var format = DetectFormat(path);
        switch (format)
        {
            case CheckpointFormat.Safetensors:
                return ReadSafetensorsHeader(path, maxTensorBytes);
            case CheckpointFormat.TorchSaveZip:
            {
                using (var zip = ZipFile.OpenRead(path))
                {
                    var storage = zip.Entries.Where(e => e.FullName.Contains("/data/", StringComparison.Ordinal)).Sum(e => e.Length);
                    if (storage > maxTensorBytes)
                        throw new InvalidDataException($"'{path}' holds {storage} bytes of tensor data, more than the {maxTensorBytes} this model can have.");
                }
                return ReadTorchSaveInfos(path);
            }
            case CheckpointFormat.TorchScript:
                throw new InvalidDataException(
                    $"'{path}' is a TorchScript archive; only OpenAI's CLIP archives with their published SHA-256 are opened as TorchScript.");
            default:
                throw new NotSupportedException(
                    $"'{path}' was written by torch.save before PyTorch 1.6 (legacy pickle format), which this program cannot read.");
        }
    }

    /// <summary>
    /// Tensor names, types and shapes of a <c>torch.save</c> zip from its pickle alone: the
    /// unpickler's skip-read mode gives, for each tensor, the arguments it would construct it from
    /// (dtype, shape) without reading the storage. Those argument objects are not public in
    /// TorchSharp.PyBridge, so their two properties are read by name; the package version is pinned
    /// and the checkpoint tests fail if that changes.
    /// </summary>
    private static Dictionary<string, TensorInfo> ReadTorchSaveInfos(string path)
    {
        using var stream = File.OpenRead(path);
        var dict = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true, skipTensorRead: true);
        var result = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in dict)
        {
            var value = entry.Value;
            var type = value?.GetType();
            if (type?.GetProperty("DType")?.GetValue(value) is ScalarType dtype && type.GetProperty("Shape")?.GetValue(value) is long[] shape)
                result[(string)entry.Key] = new TensorInfo(TensorInfo.DTypeOf(dtype), shape);
            else
                throw new InvalidDataException(
                    $"'{path}' holds '{entry.Key}' of type {type?.Name ?? "null"}; expected a state dict of tensors (torch.save(model.state_dict())).");
            (type.GetProperty("Data")?.GetValue(value) as IDisposable)?.Dispose();
        }
        return result;
    }

    private static Dictionary<string, TensorInfo> ReadSafetensorsHeader(string path, long maxTensorBytes)
    {
        using var stream = File.OpenRead(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BitConverter.ToUInt64(lengthBytes);
        if (headerLength > 100_000_000)
            throw new InvalidDataException($"'{path}' has a safetensors header of {headerLength} bytes; refusing to read it.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        using var document = System.Text.Json.JsonDocument.Parse(header);
        var result = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        long total = 0;
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__") continue;
            var dtype = property.Value.GetProperty("dtype").GetString() ?? "";
            var shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var info = new TensorInfo(dtype, shape);
            if (offsets.Length != 2 || offsets[1] - offsets[0] != info.ByteCount || offsets[1] > stream.Length - 8 - (long)headerLength)
                throw new InvalidDataException($"'{path}': tensor '{property.Name}' ({dtype} [{string.Join(", ", shape)}]) does not fit its data offsets or the file.");
            total += info.ByteCount;
            result[property.Name] = info;
        }
        if (total > maxTensorBytes)
            throw new InvalidDataException($"'{path}' holds {total} bytes of tensor data, more than the {maxTensorBytes} this model can have.");
        return result;
    }

    /// <summary>Writes tensors as safetensors (the store's one format), via a temporary file renamed into place.</summary>
    public static void WriteSafetensors(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var temp = path + ".tmp";
        using (var stream = File.Create(temp))
        {
            var contiguous = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.contiguous(), StringComparer.Ordinal);
            try
            {
                Safetensors.SaveStateDict(stream, contiguous);
            }
            finally
            {
                foreach (var (key, t) in contiguous)
                    if (!ReferenceEquals(t, tensors[key])) t.Dispose();
            }
        }
        File.Move(temp, path, overwrite: true);
    }

    private static Dictionary<string, Tensor> ReadTorchSave(string path)
    {
        using var stream = File.OpenRead(path);
        var dict = PyTorchUnpickler.UnpickleStateDict(stream);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in dict)
        {
            if (entry.Value is Tensor t)
                result[(string)entry.Key] = t;
            else
                throw new InvalidDataException(
                    $"'{path}' holds '{entry.Key}' of type {entry.Value?.GetType().Name ?? "null"}; expected a state dict of tensors (torch.save(model.state_dict())).");
        }
        return result;
    }

    private static Dictionary<string, Tensor> ReadTorchScript(string path)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var module = jit.load(path, DeviceType.CPU);
        foreach (var (name, parameter) in module.named_parameters())
            result[name] = parameter.detach().clone();
        foreach (var (name, buffer) in module.named_buffers())
            result[name] = buffer.detach().clone();
        return result;
    }

    private static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        using var stream = File.OpenRead(path);
        return new Dictionary<string, Tensor>(Safetensors.LoadStateDict(stream), StringComparer.Ordinal);
    }

    private static void EnsureExists(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Checkpoint file not found: '{Path.GetFullPath(path)}'.", path);
    }
}
