using FuseDream.Checkpoints;
using static TorchSharp.torch;

namespace FuseDream.Tests.Support;

/// <summary>A fixture's reference tensors (a safetensors file), disposed together.</summary>
public sealed class ReferenceTensors : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;
    public string Path { get; }

    public ReferenceTensors(string path)
    {
        Path = path;
        _tensors = CheckpointReader.ReadTensors(path);
    }

    public Tensor this[string name] => _tensors.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"'{name}' is not in {Path}");

    public bool Contains(string name) => _tensors.ContainsKey(name);
    public IEnumerable<string> Names => _tensors.Keys;

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
    }
}
