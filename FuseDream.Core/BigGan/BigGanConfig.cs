using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace FuseDream.BigGan;

/// <summary>
/// Shape of a BigGAN generator: what <c>fusedream_utils.get_G(resolution)</c> passes to the
/// original <c>BigGAN_utils/BigGAN.py</c> <c>Generator</c> (hierarchical z, shared embedding,
/// spectral norm with one power iteration, batch-norm style). Only the numbers that change the
/// architecture or the arithmetic are kept; the fixed choices (hier, G_shared, SN, ReLU) are the
/// only ones implemented.
/// </summary>
public sealed partial record BigGanConfig
{
    /// <summary>Output side in pixels: 128, 256 or 512.</summary>
    public int Resolution { get; init; }

    /// <summary>Channel width multiplier (the original's <c>G_ch</c>); 96 for the released models.</summary>
    public int Channels { get; init; } = 96;

    /// <summary>
    /// Latent size as passed to the original (<c>dim_z</c>, 140 for 256 and 128 for 512), before it
    /// is rounded down to a multiple of <see cref="NumSlots"/>; see <see cref="EffectiveDimZ"/>.
    /// </summary>
    public int DimZ { get; init; }

    /// <summary>Size of the shared class embedding (<c>shared_dim</c>).</summary>
    public int SharedDim { get; init; } = 128;

    /// <summary>Number of classes of the shared embedding.</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>Resolution of the block that is followed by self-attention (<c>G_attn</c>); null for none.</summary>
    public int? AttentionResolution { get; init; }

    /// <summary>Side of the first feature map (the original's <c>bottom_width</c>).</summary>
    public int BottomWidth { get; init; } = 4;

    /// <summary>Batch-norm epsilon (<c>BN_eps</c>).</summary>
    public double BatchNormEps { get; init; } = 1e-5;

    /// <summary>Spectral-norm epsilon of <c>F.normalize</c> in the power iteration (<c>SN_eps</c>).</summary>
    public double SpectralNormEps { get; init; } = 1e-8;

    /// <summary>The configuration of FuseDream's <c>get_G(resolution)</c> with the given width.</summary>
    public static BigGanConfig ForResolution(int resolution, int channels = 96)
    {
        var config = resolution switch
        {
            128 => new BigGanConfig { Resolution = 128, DimZ = 120, AttentionResolution = 64 },
            256 => new BigGanConfig { Resolution = 256, DimZ = 140, AttentionResolution = 128 },
            512 => new BigGanConfig { Resolution = 512, DimZ = 128, AttentionResolution = 64 },
            _ => throw new ArgumentOutOfRangeException(nameof(resolution), resolution,
                "BigGAN resolution must be 128, 256 or 512 (FuseDream uses 256 and 512)."),
        };
        config = config with { Channels = channels };
        config.Validate();
        return config;
    }

    // Per-block channel multipliers of the original's G_arch.
    private static readonly Dictionary<int, (int[] In, int[] Out)> Multipliers = new()
    {
        [128] = ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]),
        [256] = ([16, 16, 8, 8, 4, 2], [16, 8, 8, 4, 2, 1]),
        [512] = ([16, 16, 8, 8, 4, 2, 1], [16, 8, 8, 4, 2, 1, 1]),
    };

    /// <summary>Number of GBlocks (each doubles the side).</summary>
    public int NumBlocks => Arch.In.Length;

    /// <summary>Input channels of each GBlock.</summary>
    public IReadOnlyList<int> BlockInChannels => Arch.In.Select(m => m * Channels).ToArray();

    /// <summary>Output channels of each GBlock.</summary>
    public IReadOnlyList<int> BlockOutChannels => Arch.Out.Select(m => m * Channels).ToArray();

    /// <summary>Side of each GBlock's output: 8, 16, … <see cref="Resolution"/>.</summary>
    public IReadOnlyList<int> BlockResolutions => Enumerable.Range(0, NumBlocks).Select(i => BottomWidth << (i + 1)).ToArray();

    /// <summary>Places z is cut into: one for the linear layer, one per block.</summary>
    public int NumSlots => NumBlocks + 1;

    /// <summary>Size of each z chunk (<c>dim_z // num_slots</c>).</summary>
    public int ZChunkSize => DimZ / NumSlots;

    /// <summary>The z size the generator takes: <see cref="DimZ"/> rounded down to a multiple of <see cref="NumSlots"/>, as the original does.</summary>
    public int EffectiveDimZ => ZChunkSize * NumSlots;

    /// <summary>Input size of each conditional batch norm's gain/bias linear: [y, z chunk].</summary>
    public int ConditioningDim => SharedDim + ZChunkSize;

    /// <summary>Index of the block followed by attention, or -1.</summary>
    public int AttentionBlockIndex => AttentionResolution is { } r ? BlockResolutions.ToList().IndexOf(r) : -1;

    private (int[] In, int[] Out) Arch => Multipliers.TryGetValue(Resolution, out var arch)
        ? arch
        : throw new InvalidOperationException($"BigGAN resolution must be 128, 256 or 512, not {Resolution}.");

    /// <summary>Throws with a precise message when the configuration cannot describe a generator.</summary>
    public void Validate()
    {
        if (!Multipliers.ContainsKey(Resolution))
            throw new ArgumentException($"BigGanConfig.Resolution must be 128, 256 or 512, not {Resolution}.");
        if (BottomWidth != 4)
            throw new ArgumentException($"BigGanConfig.BottomWidth must be 4 (the only value the architecture tables describe), not {BottomWidth}.");
        if (Channels <= 0)
            throw new ArgumentException($"BigGanConfig.Channels must be positive (96 for the released models), not {Channels}.");
        if (DimZ < NumSlots)
            throw new ArgumentException($"BigGanConfig.DimZ must be at least the number of z slots ({NumSlots} at {Resolution}), not {DimZ}.");
        if (SharedDim <= 0 || NumClasses <= 0)
            throw new ArgumentException($"BigGanConfig.SharedDim and NumClasses must be positive (got {SharedDim}, {NumClasses}).");
        if (AttentionResolution is { } r && !BlockResolutions.Contains(r))
            throw new ArgumentException(
                $"BigGanConfig.AttentionResolution {r} is not a block resolution at {Resolution} ({string.Join(", ", BlockResolutions)}); use null for none.");
        if (AttentionResolution is { } a && BlockOutChannels[AttentionBlockIndex] < 8)
            throw new ArgumentException($"Attention needs at least 8 channels at resolution {a}; widen Channels.");
        if (BatchNormEps <= 0 || SpectralNormEps <= 0)
            throw new ArgumentException("BigGanConfig epsilons must be positive.");
    }

    [GeneratedRegex(@"^blocks\.(\d+)\.(\d+)\.")]
    private static partial Regex BlockKey();

    /// <summary>
    /// Reads the configuration off a state dict's shapes: classes and embedding size from
    /// <c>shared.weight</c>, width and z chunk from <c>linear.weight</c>, resolution from the number
    /// of blocks, attention from which block has a second module. Epsilons keep their defaults
    /// (they are not stored in checkpoints).
    /// </summary>
    public static BigGanConfig InferFrom(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var shared = Require(stateDict, "shared.weight", 2);
        var linear = Require(stateDict, "linear.weight", 2);

        var blockIndices = new SortedSet<int>();
        int? attentionBlock = null;
        foreach (var key in stateDict.Keys)
        {
            var match = BlockKey().Match(key);
            if (!match.Success) continue;
            var i = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            blockIndices.Add(i);
            if (match.Groups[2].Value == "1")
            {
                if (attentionBlock is { } other && other != i)
                    throw new InvalidDataException($"State dict has attention after blocks {other} and {i}; BigGAN configurations have at most one.");
                attentionBlock = i;
            }
        }
        var numBlocks = blockIndices.Count;
        if (numBlocks == 0 || blockIndices.Max != numBlocks - 1)
            throw new InvalidDataException($"State dict blocks are not numbered 0..n-1 (found {string.Join(", ", blockIndices)}); it is not a BigGAN generator.");
        var resolution = numBlocks switch
        {
            5 => 128,
            6 => 256,
            7 => 512,
            _ => throw new InvalidDataException($"State dict has {numBlocks} generator blocks; BigGAN 128/256/512 have 5/6/7."),
        };

        const int bottomWidth = 4;
        var rows = linear.shape[0];
        var firstIn = rows / (bottomWidth * bottomWidth);
        if (rows % (16 * bottomWidth * bottomWidth) != 0)
            throw new InvalidDataException($"linear.weight has {rows} rows; a BigGAN generator has 16·G_ch·{bottomWidth * bottomWidth}.");
        var channels = (int)(firstIn / 16);
        var chunk = (int)linear.shape[1];
        var config = new BigGanConfig
        {
            Resolution = resolution,
            Channels = channels,
            DimZ = chunk * (numBlocks + 1),
            SharedDim = (int)shared.shape[1],
            NumClasses = (int)shared.shape[0],
            AttentionResolution = attentionBlock is { } b ? bottomWidth << (b + 1) : null,
        };
        try
        {
            config.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"the state dict's shapes describe no valid BigGAN generator: {ex.Message}", ex);
        }
        return config;
    }

    private static Tensor Require(IReadOnlyDictionary<string, Tensor> stateDict, string key, int dims)
    {
        if (!stateDict.TryGetValue(key, out var tensor))
            throw new InvalidDataException($"State dict has no '{key}'; it is not a BigGAN generator state dict (torch.save(G.state_dict())).");
        if (tensor.dim() != dims)
            throw new InvalidDataException($"'{key}' has shape [{string.Join(", ", tensor.shape)}]; expected {dims} dimensions.");
        return tensor;
    }
}
