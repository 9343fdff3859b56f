using System.Globalization;
using FuseDream.Clip;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace FuseDream.Checkpoints;

/// <summary>Name, element type and shape of one stored tensor, as a file's metadata gives them (no data read).</summary>
public sealed record TensorInfo(string DType, long[] Shape)
{
    public bool IsFloatingPoint => DType is "F16" or "BF16" or "F32" or "F64";

    public long ByteCount => Shape.Aggregate(1L, (a, b) => a * b) * DType switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        _ => 1,
    };

    public static string DTypeOf(ScalarType type) => type switch
    {
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float32 => "F32",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => type.ToString().ToUpperInvariant(),
    };
}

/// <summary>
/// How one published layout maps onto ours, as a list of steps (rename, transpose, concatenate,
/// reorder) that can be applied to the tensors or, for verification before anything is
/// loaded, to their shapes alone. Keys the plan does not know are kept under their own name,
/// so the strict loader reports them.
/// </summary>
internal sealed partial class LayoutConversion
{
    private enum Op
    {
        Rename,
        Transpose,
        ConcatRows,
        Scalar,
        Unsqueeze0,
        LinearWeightHwcToChw,
        LinearVectorHwcToChw,
        LinearURowHwcToChw,
        SwapEmbeddingColumns,
    }

    private sealed record Step(string Target, string[] Sources, Op Op, long A = 0, long B = 0);

    private readonly List<Step> _steps;

    private LayoutConversion(CheckpointLayout from, List<Step> steps)
    {
        From = from;
        _steps = steps;
    }

    public CheckpointLayout From { get; }

    /// <summary>The conversion to our layout of a file in <paramref name="layout"/>; identity for ours.</summary>
    public static LayoutConversion For(CheckpointLayout layout, IReadOnlyDictionary<string, long[]> shapes) => layout switch
    {
        CheckpointLayout.ClipTransformers => FromTransformers(shapes),
        CheckpointLayout.BigGanV1 => FromBigGanV1(shapes),
        CheckpointLayout.ClipOpenAi => Identity(layout, shapes, clip: true),
        _ => Identity(layout, shapes, clip: false),
    };

    /// <summary>
    /// Reads a checkpoint in any supported layout and writes it as safetensors in ours (dtypes kept):
    /// the model store's one format, so a worker never converts at start-up.
    /// </summary>
    public static CheckpointLayout WriteOurs(string sourcePath, string targetPath, bool allowTorchScript)
    {
        var tensors = CheckpointReader.ReadTensors(sourcePath, allowTorchScript);
        try
        {
            var ours = ToOurs(tensors, out var layout);
            try
            {
                CheckpointReader.WriteSafetensors(targetPath, ours);
                return layout;
            }
            finally
            {
                foreach (var t in ours.Values) t.Dispose();
            }
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>Detects the layout of <paramref name="tensors"/> and returns them in ours (new handles; the caller disposes both).</summary>
    public static Dictionary<string, Tensor> ToOurs(IReadOnlyDictionary<string, Tensor> tensors, out CheckpointLayout layout)
    {
        layout = CheckpointLayouts.Detect(tensors.Keys);
        var shapes = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        return For(layout, shapes).Apply(tensors);
    }

    public Dictionary<string, Tensor> Apply(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var step in _steps)
                result[step.Target] = Apply(step, step.Sources.Select(s => tensors[s]).ToArray());
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    public Dictionary<string, TensorInfo> ApplyShapes(IReadOnlyDictionary<string, TensorInfo> infos)
    {
        var result = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (var step in _steps)
        {
            var sources = step.Sources.Select(s => infos[s]).ToArray();
            var first = sources[0];
            var shape = step.Op switch
            {
                Op.Transpose => first.Shape.Reverse().ToArray(),
                Op.ConcatRows => [sources.Sum(s => s.Shape[0]), .. first.Shape[1..]],
                Op.Scalar => first.Shape.Aggregate(1L, (a, b) => a * b) == 1 ? [] : first.Shape,
                Op.Unsqueeze0 => [1, .. first.Shape],
                Op.LinearURowHwcToChw => [1, first.Shape.Aggregate(1L, (a, b) => a * b)],
                _ => first.Shape,
            };
            result[step.Target] = new TensorInfo(first.DType, shape);
        }
        return result;
    }

    private static Tensor Apply(Step step, Tensor[] s)
    {
        using var scope = NewDisposeScope();
        var result = step.Op switch
        {
            Op.Rename => s[0].alias(),
            Op.Transpose => s[0].t().contiguous(),
            Op.ConcatRows => cat(s, 0),
            Op.Scalar => s[0].numel() == 1 ? s[0].reshape([]) : s[0].alias(),
            Op.Unsqueeze0 => s[0].unsqueeze(0),
            // ajbrock's convert_from_v1: the first linear layer's rows go from (h, w, c) to (c, h, w) order.
            Op.LinearWeightHwcToChw => s[0].contiguous().view(4, 4, step.A, -1).permute(2, 0, 1, 3).contiguous().view(-1, s[0].shape[1]),
            Op.LinearVectorHwcToChw => s[0].view(4, 4, step.A).permute(2, 0, 1).contiguous().view(-1),
            Op.LinearURowHwcToChw => s[0].view(4, 4, step.A).permute(2, 0, 1).contiguous().view(1, -1),
            // [z-chunk, y] columns become [y, z-chunk]: A = shared dim (y), B = z chunk.
            Op.SwapEmbeddingColumns => cat([s[0].narrow(1, s[0].shape[1] - step.A, step.A), s[0].narrow(1, 0, step.B)], 1),
            _ => throw new InvalidOperationException($"Unknown layout step {step.Op}."),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Scalars OpenAI's archives carry beside the weights; <c>build_model</c> ignores them, and so does our layout.</summary>
    private static readonly string[] ClipArchiveMetadataKeys = ["input_resolution", "context_length", "vocab_size"];

    private static LayoutConversion Identity(CheckpointLayout layout, IReadOnlyDictionary<string, long[]> shapes, bool clip) =>
        new(layout, shapes
            .Where(kv => !(clip && ClipArchiveMetadataKeys.Contains(kv.Key) && kv.Value.Length == 0))
            .Select(kv => new Step(kv.Key, [kv.Key], clip && kv.Key == "logit_scale" ? Op.Scalar : Op.Rename))
            .ToList());

    // ---- CLIP: transformers → OpenAI (mapping of transformers' convert_clip_original_pytorch_to_hf.py, inverted) ----

    private static readonly Dictionary<string, (string Target, Op Op)> ClipFixed = new(StringComparer.Ordinal)
    {
        ["vision_model.embeddings.class_embedding"] = ("visual.class_embedding", Op.Rename),
        ["vision_model.embeddings.patch_embedding.weight"] = ("visual.conv1.weight", Op.Rename),
        ["vision_model.embeddings.position_embedding.weight"] = ("visual.positional_embedding", Op.Rename),
        ["vision_model.pre_layrnorm.weight"] = ("visual.ln_pre.weight", Op.Rename),
        ["vision_model.pre_layrnorm.bias"] = ("visual.ln_pre.bias", Op.Rename),
        ["vision_model.post_layernorm.weight"] = ("visual.ln_post.weight", Op.Rename),
        ["vision_model.post_layernorm.bias"] = ("visual.ln_post.bias", Op.Rename),
        ["visual_projection.weight"] = ("visual.proj", Op.Transpose),
        ["text_model.embeddings.token_embedding.weight"] = ("token_embedding.weight", Op.Rename),
        ["text_model.embeddings.position_embedding.weight"] = ("positional_embedding", Op.Rename),
        ["text_model.final_layer_norm.weight"] = ("ln_final.weight", Op.Rename),
        ["text_model.final_layer_norm.bias"] = ("ln_final.bias", Op.Rename),
        ["text_projection.weight"] = ("text_projection", Op.Transpose),
        ["logit_scale"] = ("logit_scale", Op.Scalar),
    };

    private static readonly Dictionary<string, string> ClipLayerParts = new(StringComparer.Ordinal)
    {
        ["self_attn.out_proj."] = "attn.out_proj.",
        ["layer_norm1."] = "ln_1.",
        ["layer_norm2."] = "ln_2.",
        ["mlp.fc1."] = "mlp.c_fc.",
        ["mlp.fc2."] = "mlp.c_proj.",
    };

    private static LayoutConversion FromTransformers(IReadOnlyDictionary<string, long[]> shapes)
    {
        var steps = new List<Step>();
        var qkv = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var key in shapes.Keys.Order(StringComparer.Ordinal))
        {
            if (key.EndsWith(".position_ids", StringComparison.Ordinal))
                continue; // int64 buffers of transformers' embeddings; CLIP has no such tensor
            if (ClipFixed.TryGetValue(key, out var fixedStep))
            {
                steps.Add(new Step(fixedStep.Target, [key], fixedStep.Op));
                continue;
            }
            var match = ClipLayerRegex().Match(key);
            if (!match.Success)
            {
                steps.Add(new Step(key, [key], Op.Rename));
                continue;
            }
            var prefix = (match.Groups["tower"].Value == "vision_model" ? "visual.transformer.resblocks." : "transformer.resblocks.")
                         + match.Groups["layer"].Value + ".";
            var rest = match.Groups["rest"].Value;
            var qkvMatch = QkvRegex().Match(rest);
            if (qkvMatch.Success)
            {
                // OpenAI's in_proj_weight/bias = cat(q, k, v) along the rows.
                var target = prefix + "attn.in_proj_" + qkvMatch.Groups["what"].Value;
                var stem = key[..^rest.Length] + "self_attn.";
                var what = qkvMatch.Groups["what"].Value;
                qkv[target] = [stem + "q_proj." + what, stem + "k_proj." + what, stem + "v_proj." + what];
                continue;
            }
            var part = ClipLayerParts.FirstOrDefault(p => rest.StartsWith(p.Key, StringComparison.Ordinal));
            steps.Add(part.Key is null
                ? new Step(key, [key], Op.Rename)
                : new Step(prefix + part.Value + rest[part.Key.Length..], [key], Op.Rename));
        }
        foreach (var (target, sources) in qkv)
        {
            var absent = sources.Where(s => !shapes.ContainsKey(s)).ToList();
            if (absent.Count > 0)
                throw new ClipStateDictException(
                    $"The transformers-layout checkpoint lacks {string.Join(", ", absent.Select(a => $"'{a}'"))}, needed for '{target}'.",
                    missing: absent, unexpected: [], mismatched: []);
            steps.Add(new Step(target, sources, Op.ConcatRows));
        }
        return new LayoutConversion(CheckpointLayout.ClipTransformers, steps);
    }

    [GeneratedRegex(@"^(?<tower>vision_model|text_model)\.encoder\.layers\.(?<layer>\d+)\.(?<rest>.+)$")]
    private static partial Regex ClipLayerRegex();

    [GeneratedRegex(@"^self_attn\.[qkv]_proj\.(?<what>weight|bias)$")]
    private static partial Regex QkvRegex();

    // ---- BigGAN: v1 → ajbrock (ajbrock/BigGAN-PyTorch TFHub/converter.py convert_from_v1) ----

    private static readonly Dictionary<int, int> AttentionBlockByResolution = new() { [128] = 3, [256] = 4, [512] = 3 };
    private static readonly Dictionary<int, int> ResolutionByBlockCount = new() { [5] = 128, [6] = 256, [7] = 512 };

    private static LayoutConversion FromBigGanV1(IReadOnlyDictionary<string, long[]> shapes)
    {
        var blocks = shapes.Keys
            .Select(k => GBlockRegex().Match(k))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups["block"].Value, CultureInfo.InvariantCulture))
            .Distinct()
            .Count();
        if (!ResolutionByBlockCount.TryGetValue(blocks, out var resolution))
            throw new InvalidDataException(
                $"the v1-layout BigGAN has {blocks} GBlocks; the TF-Hub ports have 5 (128), 6 (256) or 7 (512), so its resolution is unknown.");
        var attention = AttentionBlockByResolution[resolution];
        if (!shapes.TryGetValue("G_linear.module.bias", out var linearBias) || !shapes.TryGetValue("G_linear.module.weight_bar", out var linearWeight)
            || linearBias.Length != 1 || linearWeight.Length != 2 || linearBias[0] % 16 != 0)
            throw new InvalidDataException("the v1-layout BigGAN has no usable 'G_linear.module.bias'/'G_linear.module.weight_bar' (expected [16·width] and [16·width, z-chunk]).");
        var width = linearBias[0] / 16; // the first block's input width, G_ch·16 (96·16 in the released models)
        var zChunk = linearWeight[1];

        var steps = new List<Step>();
        void Add(string target, string source, Op op = Op.Rename, long a = 0, long b = 0) => steps.Add(new Step(target, [source], op, a, b));

        foreach (var key in shapes.Keys.Order(StringComparer.Ordinal))
        {
            switch (key)
            {
                case "linear.weight": Add("shared.weight", key, Op.Transpose); continue; // the shared class embedding, stored transposed
                case "G_linear.module.weight_bar": Add("linear.weight", key, Op.LinearWeightHwcToChw, width); continue;
                case "G_linear.module.bias": Add("linear.bias", key, Op.LinearVectorHwcToChw, width); continue;
                case "G_linear.module.weight_u": Add("linear.u0", key, Op.LinearURowHwcToChw, width); continue;
                case "G_linear.module.weight_v": continue;
                case "ScaledCrossReplicaBN.weight": Add("output_layer.0.gain", key); continue;
                case "ScaledCrossReplicaBN.bias": Add("output_layer.0.bias", key); continue;
                case "ScaledCrossReplicaBN.running_mean": Add("output_layer.0.stored_mean", key); continue;
                case "ScaledCrossReplicaBN.running_var": Add("output_layer.0.stored_var", key); continue;
                case "ScaledCrossReplicaBN.num_batches_tracked": continue;
                case "colorize.module.weight_bar": Add("output_layer.2.weight", key); continue;
                case "colorize.module.bias": Add("output_layer.2.bias", key); continue;
                case "colorize.module.weight_u": Add("output_layer.2.u0", key, Op.Unsqueeze0); continue;
                case "colorize.module.weight_v": continue;
                case "attention.gamma": Add($"blocks.{attention}.1.gamma", key); continue;
            }
            var attn = AttentionRegex().Match(key);
            if (attn.Success)
            {
                var name = attn.Groups["part"].Value == "o_conv" ? "o" : attn.Groups["part"].Value;
                switch (attn.Groups["what"].Value)
                {
                    case "weight_bar": Add($"blocks.{attention}.1.{name}.weight", key); break;
                    case "weight_u": Add($"blocks.{attention}.1.{name}.u0", key, Op.Unsqueeze0); break;
                    case "bias": Add($"blocks.{attention}.1.{name}.bias", key); break;
                    // weight_v: the power iteration's other vector, which ajbrock's layout does not keep
                }
                continue;
            }
            var conv = ConvRegex().Match(key);
            if (conv.Success)
            {
                var target = $"blocks.{conv.Groups["block"].Value}.0.{ConvNames[conv.Groups["conv"].Value]}.";
                switch (conv.Groups["what"].Value)
                {
                    case "weight_bar": Add(target + "weight", key); break;
                    case "weight_u": Add(target + "u0", key, Op.Unsqueeze0); break;
                    case "bias": Add(target + "bias", key); break;
                }
                continue;
            }
            var embed = EmbedRegex().Match(key);
            if (embed.Success)
            {
                var target = $"blocks.{embed.Groups["block"].Value}.0.bn{(embed.Groups["second"].Success ? 2 : 1)}.{(embed.Groups["which"].Value == "gamma" ? "gain" : "bias")}.";
                switch (embed.Groups["what"].Value)
                {
                    case "weight_bar":
                        var columns = shapes[key].Length == 2 ? shapes[key][1] : 0;
                        if (columns <= zChunk)
                            throw new InvalidDataException($"'{key}' has shape [{string.Join(", ", shapes[key])}]; expected [channels, z-chunk {zChunk} + shared dim].");
                        Add(target + "weight", key, Op.SwapEmbeddingColumns, columns - zChunk, zChunk);
                        break;
                    case "weight_u": Add(target + "u0", key, Op.Unsqueeze0); break;
                }
                continue;
            }
            var bn = BnStatRegex().Match(key);
            if (bn.Success)
            {
                var target = $"blocks.{bn.Groups["block"].Value}.0.bn{(bn.Groups["second"].Success ? 2 : 1)}.";
                switch (bn.Groups["what"].Value)
                {
                    case "running_mean": Add(target + "stored_mean", key); break;
                    case "running_var": Add(target + "stored_var", key); break;
                }
                continue;
            }
            if (key.EndsWith(".weight_v", StringComparison.Ordinal) || key.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
                continue;
            Add(key, key); // unknown: kept, so the strict load names it
        }
        return new LayoutConversion(CheckpointLayout.BigGanV1, steps);
    }

    private static readonly Dictionary<string, string> ConvNames = new(StringComparer.Ordinal)
    {
        ["conv0"] = "conv1",
        ["conv1"] = "conv2",
        ["conv_sc"] = "conv_sc",
    };

    [GeneratedRegex(@"^GBlock\.(?<block>\d+)\.")]
    private static partial Regex GBlockRegex();

    [GeneratedRegex(@"^attention\.(?<part>theta|phi|g|o_conv)\.module\.(?<what>\w+)$")]
    private static partial Regex AttentionRegex();

    [GeneratedRegex(@"^GBlock\.(?<block>\d+)\.(?<conv>conv0|conv1|conv_sc)\.module\.(?<what>\w+)$")]
    private static partial Regex ConvRegex();

    [GeneratedRegex(@"^GBlock\.(?<block>\d+)\.HyperBN(?<second>_1)?\.(?<which>gamma|beta)_embed\.module\.(?<what>\w+)$")]
    private static partial Regex EmbedRegex();

    [GeneratedRegex(@"^GBlock\.(?<block>\d+)\.HyperBN(?<second>_1)?\.bn\.(?<what>\w+)$")]
    private static partial Regex BnStatRegex();
}
