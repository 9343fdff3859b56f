using System.Text.Json;
using FuseDream.Tests.Support;
using static TorchSharp.torch;

namespace FuseDream.Tests.BigGan;

/// <summary>
/// One model of one BigGAN fixture set: a folder holding <c>biggan.json</c>, whose <c>models</c>
/// object describes one generator per resolution (weights file, reference tensors, tolerances).
/// </summary>
public sealed class BigGanFixtureSet : IDisposable
{
    public const string Group = "biggan";
    public const string Descriptor = "biggan.json";

    private readonly JsonDocument _document;

    public BigGanFixtureSet(string descriptor, string model)
    {
        _document = FixtureSets.Load(descriptor);
        Root = _document.RootElement;
        Model = Root.GetProperty("models").GetProperty(model);
        Name = $"{descriptor}#{model}";
        WeightsPath = FixtureSets.Resolve(descriptor, Model.GetProperty("weights_file").GetString()!);
        Reference = new ReferenceTensors(FixtureSets.Resolve(descriptor, Model.GetProperty("reference_file").GetString()!));
    }

    /// <summary>xunit rows: (descriptor path relative to Fixtures/, model key) for every model of every set.</summary>
    public static TheoryData<string, string> All()
    {
        var data = new TheoryData<string, string>();
        foreach (var descriptor in FixtureSets.Find(Group, Descriptor))
        {
            var relative = Path.GetRelativePath(FixtureSets.Root, descriptor);
            using var doc = JsonDocument.Parse(File.ReadAllText(descriptor));
            foreach (var model in doc.RootElement.GetProperty("models").EnumerateObject())
                data.Add(relative, model.Name);
        }
        return data;
    }

    public string Name { get; }
    public JsonElement Root { get; }
    public JsonElement Model { get; }
    public string WeightsPath { get; }
    public ReferenceTensors Reference { get; }

    /// <summary>The checkpoint's keys and shapes, as the descriptor lists them (<c>state_dict_keys</c>).</summary>
    public IReadOnlyDictionary<string, string> StateDictKeys =>
        Model.GetProperty("state_dict_keys").EnumerateObject()
            .ToDictionary(p => p.Name, p => string.Join(",", p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64())));

    /// <summary>
    /// Whether the checkpoint carries the optional spectral-norm <c>.sv0</c> buffers (released
    /// checkpoints do not): the descriptor's <c>sv0_keys_present</c>, or, where a descriptor does
    /// not say, whether its key list names any. A descriptor that says one thing and lists the other is an error.
    /// </summary>
    public bool Sv0KeysPresent
    {
        get
        {
            var listed = StateDictKeys.Keys.Any(IsSv0);
            if (!Model.TryGetProperty("sv0_keys_present", out var stated)) return listed;
            Assert.True(stated.GetBoolean() == listed,
                $"{Name}: sv0_keys_present is {stated.GetBoolean()}, but state_dict_keys {(listed ? "lists" : "lists no")} .sv0 keys");
            return stated.GetBoolean();
        }
    }

    public static bool IsSv0(string key) => key.EndsWith(".sv0", StringComparison.Ordinal);

    public int Resolution => Model.GetProperty("config_passed_to_Generator").GetProperty("resolution").GetInt32();

    /// <summary>Reference tensor names (from the descriptor's <c>tensors</c>) that start with <paramref name="prefix"/>.</summary>
    public IReadOnlyList<string> TensorNames(string prefix) =>
        Model.GetProperty("tensors").EnumerateObject().Select(p => p.Name)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    /// <summary>(atol, rtol) for a tensor: its own entry, else the longest matching <c>prefix.*</c> entry.</summary>
    public (double Atol, double Rtol) Tolerance(string name, string section = "tolerances")
    {
        var tolerances = Model.GetProperty(section);
        if (tolerances.TryGetProperty(name, out var exact))
            return Read(exact);
        var best = tolerances.EnumerateObject()
            .Where(p => p.Name.EndsWith(".*", StringComparison.Ordinal) && name.StartsWith(p.Name[..^1], StringComparison.Ordinal))
            .OrderByDescending(p => p.Name.Length)
            .Select(p => (JsonElement?)p.Value)
            .FirstOrDefault();
        return best is { } found ? Read(found) : throw new KeyNotFoundException($"{Name}: no {section} entry for '{name}'");

        static (double, double) Read(JsonElement e) => (e.GetProperty("atol").GetDouble(), e.GetProperty("rtol").GetDouble());
    }

    public bool HasTolerance(string name, string section) =>
        Model.TryGetProperty(section, out var s) && s.TryGetProperty(name, out _);

    /// <summary>The weighting tensor R of <c>weighted_sum</c>, rebuilt from the descriptor's hash_uniform recipe.</summary>
    public Tensor WeightingTensor(long[] imageShape)
    {
        var recipe = Model.GetProperty("R");
        var salt = recipe.GetProperty("salt").GetUInt64();
        var values = HashUniform.Generate(imageShape.Aggregate(1L, (a, b) => a * b), salt);
        var first = recipe.GetProperty("first_8").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(first, values.Take(first.Length).ToArray());
        return tensor(values).reshape(imageShape);
    }

    /// <summary>The descriptor's image views: <c>sub4</c> = x[:, :, ::4, ::4], <c>tl32</c>/<c>br32</c> = 32×32 corners.</summary>
    public static Tensor View(Tensor x, string kind) => kind switch
    {
        "sub4" => x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(null, null, 4), TensorIndex.Slice(null, null, 4)],
        "tl32" => x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(null, 32), TensorIndex.Slice(null, 32)],
        "br32" => x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(-32, null), TensorIndex.Slice(-32, null)],
        _ => throw new NotSupportedException($"Unknown image view '{kind}' in a fixture: teach BigGanFixtureSet.View what it means."),
    };

    public void Dispose()
    {
        Reference.Dispose();
        _document.Dispose();
    }
}
