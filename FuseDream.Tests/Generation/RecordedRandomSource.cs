using System.Text.Json;
using FuseDream.Generation;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.Generation;

/// <summary>
/// Replays the random draws a fixture recorded from the original, in order, and fails loudly
/// when the code under test asks for a different kind or shape of draw than the original made.
/// </summary>
public sealed class RecordedRandomSource : IRandomSource
{
    private readonly Queue<Draw> _draws = new();

    public int Remaining => _draws.Count;

    public static RecordedRandomSource FromFixture(JsonElement drawsArray, ReferenceTensors tensors)
    {
        var source = new RecordedRandomSource();
        foreach (var draw in drawsArray.EnumerateArray())
        {
            var fn = draw.GetProperty("fn").GetString()!;
            var index = draw.GetProperty("index").GetInt32();
            switch (fn)
            {
                case "torch.rand":
                    source.AddTensor(DrawKind.Rand, tensors[draw.GetProperty("tensor").GetString()!], index);
                    break;
                case "torch.randn":
                    source.AddTensor(DrawKind.RandN, tensors[draw.GetProperty("tensor").GetString()!], index);
                    break;
                case "torch.randint":
                    var args = draw.GetProperty("args").GetProperty("args");
                    source.AddRandInt(args[0].GetInt64(), args[1].GetInt64(), tensors[draw.GetProperty("tensor").GetString()!], index);
                    break;
                case "numpy.random.rand":
                    source.AddScalar(draw.GetProperty("value").GetDouble(), index);
                    break;
                default:
                    throw new InvalidDataException($"fixture draw {index}: unknown function '{fn}'");
            }
        }
        return source;
    }

    public RecordedRandomSource AddTensor(DrawKind kind, Tensor value, int index = -1)
    {
        _draws.Enqueue(new Draw(kind, value, 0, 0, 0, index < 0 ? _draws.Count : index));
        return this;
    }

    public RecordedRandomSource AddRandInt(long low, long high, Tensor value, int index = -1)
    {
        _draws.Enqueue(new Draw(DrawKind.RandInt, value, low, high, 0, index < 0 ? _draws.Count : index));
        return this;
    }

    public RecordedRandomSource AddScalar(double value, int index = -1)
    {
        _draws.Enqueue(new Draw(DrawKind.Scalar, null, 0, 0, value, index < 0 ? _draws.Count : index));
        return this;
    }

    public Tensor Rand(long[] shape, Device device) => Next(DrawKind.Rand, shape, device);

    public Tensor RandN(long[] shape, Device device) => Next(DrawKind.RandN, shape, device);

    public Tensor RandInt(long low, long high, long[] shape, Device device)
    {
        var draw = Dequeue(DrawKind.RandInt, shape);
        if (draw.Low != low || draw.High != high)
            throw new InvalidOperationException($"draw {draw.Index}: the original drew randint({draw.Low}, {draw.High}), the code asked for randint({low}, {high})");
        return draw.Value!.clone().to(device);
    }

    public double UniformScalar() => Dequeue(DrawKind.Scalar, null).Scalar;

    private Tensor Next(DrawKind kind, long[] shape, Device device) => Dequeue(kind, shape).Value!.to(float32).clone().to(device);

    private Draw Dequeue(DrawKind kind, long[]? shape)
    {
        if (_draws.Count == 0)
            throw new InvalidOperationException($"the code asked for a {kind} draw after all recorded draws were used");
        var draw = _draws.Dequeue();
        if (draw.Kind != kind)
            throw new InvalidOperationException($"draw {draw.Index}: the original drew {draw.Kind}, the code asked for {kind}");
        if (shape is not null && !draw.Value!.shape.SequenceEqual(shape))
            throw new InvalidOperationException($"draw {draw.Index}: the original drew shape [{string.Join(",", draw.Value.shape)}], the code asked for [{string.Join(",", shape)}]");
        return draw;
    }

    public enum DrawKind { Rand, RandN, RandInt, Scalar }

    private sealed record Draw(DrawKind Kind, Tensor? Value, long Low, long High, double Scalar, int Index);
}
