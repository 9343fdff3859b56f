using System.Text.Json;
using FuseDream.BigGan;
using FuseDream.Clip;
using FuseDream.Tests.Support;
using static TorchSharp.torch;
using FuseDream.Checkpoints;

namespace FuseDream.Tests.Generation;

/// <summary>
/// One fusedream fixture set: a folder holding <c>fusedream.json</c>, which names the tiny CLIP
/// and BigGAN it was produced with, the original's numbers and the tolerances to test with.
/// </summary>
public sealed class FuseDreamFixtureSet : IDisposable
{
    public const string Group = "fusedream";
    public const string Descriptor = "fusedream.json";

    private readonly JsonDocument _document;

    public FuseDreamFixtureSet(string descriptor)
    {
        Name = descriptor;
        _document = FixtureSets.Load(descriptor);
        Root = _document.RootElement;
        var models = Root.GetProperty("models");
        ClipPath = FixtureSets.Resolve(descriptor, FirstWord(models.GetProperty("clip").GetString()!));
        GeneratorPath = FixtureSets.Resolve(descriptor, FirstWord(models.GetProperty("G").GetString()!));
        Reference = new ReferenceTensors(FixtureSets.Resolve(descriptor, "fusedream.safetensors"));
    }

    public static TheoryData<string> All() => FixtureSets.Theory(Group, Descriptor);

    public string Name { get; }
    public JsonElement Root { get; }
    public string ClipPath { get; }
    public string GeneratorPath { get; }
    public ReferenceTensors Reference { get; }

    public ClipModel LoadClip() => ClipCheckpoint.Load(ClipPath);

    public BigGanGenerator LoadGenerator() => BigGanCheckpoint.Load(GeneratorPath);

    public Tensor InputImage => Reference["input.img"].to(float32);

    public long[] TextTokens => Reference["input.text"].data<long>().ToArray();

    public static (double Atol, double Rtol) Tolerance(JsonElement tolerance) =>
        (tolerance.GetProperty("atol").GetDouble(), tolerance.GetProperty("rtol").GetDouble());

    /// <summary>Compares every stored view (<c>.sub4</c>, <c>.tl32</c>, <c>.br32</c>) of a large image-shaped tensor.</summary>
    public void CompareViews(string prefix, Tensor actual, double atol, double rtol)
    {
        var compared = 0;
        foreach (var (suffix, view) in Views(actual))
        {
            var name = $"{prefix}.{suffix}";
            if (!Reference.Contains(name)) continue;
            TensorAssert.Close(Reference[name], view, atol, rtol, $"{Name}:{name}");
            compared++;
        }
        Assert.True(compared > 0, $"{Name}: no stored views of {prefix}");
    }

    private static IEnumerable<(string, Tensor)> Views(Tensor x)
    {
        long h = x.shape[2], w = x.shape[3];
        yield return ("sub4", x.slice(2, 0, h, 4).slice(3, 0, w, 4));
        yield return ("tl32", x.narrow(2, 0, 32).narrow(3, 0, 32));
        yield return ("br32", x.narrow(2, h - 32, 32).narrow(3, w - 32, 32));
    }

    private static string FirstWord(string text) => text.Split(' ', 2)[0];

    public void Dispose()
    {
        Reference.Dispose();
        _document.Dispose();
    }
}
