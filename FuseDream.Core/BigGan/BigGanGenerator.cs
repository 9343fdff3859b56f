using FuseDream.Checkpoints;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FuseDream.BigGan;

/// <summary>
/// The BigGAN generator FuseDream optimises through: <c>BigGAN_utils/BigGAN.py</c>
/// <c>Generator</c> (ajbrock BigGAN-PyTorch as vendored in FuseDream) with the configuration of
/// <c>fusedream_utils.get_G(256|512)</c>: hierarchical z, shared class embedding, spectral-norm
/// layers, conditional batch norm, self-attention at one resolution, tanh output. State-dict keys
/// are the original's, so its <c>torch.save(G.state_dict())</c> files load as they are.
/// <para>Deliberate differences: inference only (frozen, eval, no parameter gradients); the
/// spectral-norm division is done once when the weights are loaded instead of on every call (same
/// numbers: eval mode never updates <c>u0</c>), so <see cref="nn.Module.state_dict"/> returns the
/// divided weights; loading is strict (missing or unexpected keys are errors, except the
/// spectral-norm <c>sv0</c> buffers that released checkpoints lack and eval never reads); no
/// training-mode batch norm, cross-replica BN or fp16 paths.</para>
/// </summary>
public sealed class BigGanGenerator : nn.Module
{
    [ComponentName(Name = "shared")] private readonly Embedding _shared;
    [ComponentName(Name = "linear")] private readonly SNLinear _linear;
    [ComponentName(Name = "blocks")] private readonly ModuleList<ModuleList<nn.Module>> _blocks;
    [ComponentName(Name = "output_layer")] private readonly Sequential _outputLayer;

    // Typed views of the registered modules for the forward pass (arrays and tuples are not
    // registered again by RegisterComponents).
    private readonly (GBlock Block, SelfAttention? Attention)[] _stages;
    private readonly (OutputBatchNorm Norm, SNConv2d Conv) _output;

    /// <summary>The architecture with uninitialised weights: load a checkpoint (<see cref="BigGanCheckpoint"/>) or use <see cref="BigGanRandomInit"/>.</summary>
    internal BigGanGenerator(BigGanConfig config) : base(nameof(BigGanGenerator))
    {
        config.Validate();
        Config = config;
        _shared = nn.Embedding(config.NumClasses, config.SharedDim);
        _linear = new SNLinear(config.ZChunkSize, config.BlockInChannels[0] * config.BottomWidth * config.BottomWidth);

        _stages = new (GBlock, SelfAttention?)[config.NumBlocks];
        var blockLists = new ModuleList<nn.Module>[config.NumBlocks];
        for (var i = 0; i < config.NumBlocks; i++)
        {
            var block = new GBlock(config.BlockInChannels[i], config.BlockOutChannels[i], config.ConditioningDim, config.BatchNormEps);
            var attention = i == config.AttentionBlockIndex ? new SelfAttention(config.BlockOutChannels[i]) : null;
            _stages[i] = (block, attention);
            blockLists[i] = attention is null ? nn.ModuleList<nn.Module>(block) : nn.ModuleList<nn.Module>(block, attention);
        }
        _blocks = nn.ModuleList(blockLists);

        var lastChannels = config.BlockOutChannels[^1];
        _output = (new OutputBatchNorm(lastChannels, config.BatchNormEps), new SNConv2d(lastChannels, 3, kernelSize: 3));
        _outputLayer = nn.Sequential(("0", _output.Norm), ("1", nn.ReLU()), ("2", _output.Conv));
        RegisterComponents();
    }

    public BigGanConfig Config { get; }

    /// <summary>The z size callers pass: the configured dim_z rounded down to a multiple of the number of z slots.</summary>
    public int DimZ => Config.EffectiveDimZ;

    /// <summary>Size of the class embedding y (128).</summary>
    public int EmbeddingDim => Config.SharedDim;

    public int Resolution => Config.Resolution;

    public int NumClasses => Config.NumClasses;

    /// <summary>
    /// An internal speed trial, off by default: run the 3×3 convolutions (each block's two and the
    /// output layer's) with channels-last (NHWC) weights, which makes libtorch's convolutions compute
    /// in channels-last; each block's output and the image are NCHW again. The same function up to
    /// rounding (<c>BigGanChannelsLastTests</c>); <c>bench biggan --layout</c> times both. Not a
    /// setting: no configuration or request reaches it.
    /// </summary>
    public bool ChannelsLast
    {
        get => _output.Conv.ChannelsLast;
        set
        {
            foreach (var (block, _) in _stages) block.ChannelsLast = value;
            _output.Conv.ChannelsLast = value;
        }
    }

    /// <summary>Where the weights live.</summary>
    public Device Device => _shared.weight!.device;

    /// <summary>The type of the weights: float32 unless converted (<see cref="Models.ModelPrecision.ApplyTo"/>).</summary>
    public ScalarType WeightType => _shared.weight!.dtype;

    /// <summary>The shared class embedding: [B] int64 class indices → [B, <see cref="EmbeddingDim"/>] (float32 when the weights are bf16).</summary>
    public Tensor ClassEmbedding(Tensor classIndices)
    {
        ArgumentNullException.ThrowIfNull(classIndices);
        if (classIndices.dim() != 1)
            throw new ArgumentException($"classIndices must be a 1-D tensor [batch]; got shape [{string.Join(", ", classIndices.shape)}].", nameof(classIndices));
        if (classIndices.dtype is not (ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte))
            throw new ArgumentException($"classIndices must hold integers (int64); got {classIndices.dtype}.", nameof(classIndices));
        if (classIndices.numel() > 0)
        {
            long min, max;
            using (NewDisposeScope())
            {
                min = Generation.HostRead.Long(classIndices.min());
                max = Generation.HostRead.Long(classIndices.max());
            }
            if (min < 0 || max >= NumClasses)
                throw new ArgumentOutOfRangeException(nameof(classIndices),
                    $"Class indices must lie in [0, {NumClasses - 1}]; got values from {min} to {max}.");
        }
        using var indices = classIndices.to(ScalarType.Int64, Device);
        var embedded = _shared.call(indices); // [B, shared_dim]
        if (!Models.ModelPrecision.IsReduced(embedded.dtype)) return embedded;
        using (embedded) return embedded.to(ScalarType.Float32);
    }

    /// <summary>
    /// The image for latents <paramref name="z"/> [B, <see cref="DimZ"/>] and continuous class
    /// embeddings <paramref name="y"/> [B, <see cref="EmbeddingDim"/>]: [B, 3, R, R] in [-1, 1].
    /// Gradients flow to z and y; the weights never take gradients. With bf16 weights, z and y may
    /// be float32 (they are cast to bf16 here) and the image is float32.
    /// </summary>
    public Tensor Generate(Tensor z, Tensor y) => Forward(z, y, tap: null);

    /// <summary>
    /// The forward pass, optionally showing intermediate results to <paramref name="tap"/> under the
    /// original's module names (<c>linear</c> before the reshape, <c>blocks.i.j</c>). The tapped
    /// tensors are freed after the call returns: keep copies detached from the dispose scope
    /// (<c>clone().DetachFromDisposeScope()</c>).
    /// </summary>
    internal Tensor Forward(Tensor z, Tensor y, Action<string, Tensor>? tap)
    {
        ValidateInputs(z, y);
        using var scope = NewDisposeScope();
        var weightType = WeightType;
        var reduced = Models.ModelPrecision.IsReduced(weightType);
        if (reduced)
        {
            z = z.to(weightType);                              // autograd casts the gradient back
            y = y.to(weightType);
        }
        var batch = z.shape[0];
        var chunks = z.split(Config.ZChunkSize, dim: 1);       // NumSlots × [B, chunk]
        var h = _linear.call(chunks[0]);                       // [B, 16·ch·bw²]
        tap?.Invoke("linear", h);
        h = h.view(batch, -1, Config.BottomWidth, Config.BottomWidth); // [B, 16·ch, 4, 4]
        for (var i = 0; i < _stages.Length; i++)
        {
            // Each stage's input is disposed once the stage has run (autograd keeps what it needs).
            using var stepScope = NewDisposeScope();
            var conditioning = cat([y, chunks[i + 1]], 1);     // [B, shared_dim + chunk]
            var (block, attention) = _stages[i];
            var next = block.call(h, conditioning);            // [B, out_i, 2H, 2W]
            h.Dispose();
            h = next;
            tap?.Invoke($"blocks.{i}.0", h);
            if (attention is not null)
            {
                next = attention.call(h);                      // same shape
                h.Dispose();
                h = next;
                tap?.Invoke($"blocks.{i}.1", h);
            }
            h.MoveToOuterDisposeScope();
        }
        // output_layer (bn → ReLU → conv) step by step, so each map is freed once used.
        var activated = _output.Norm.call(h).relu_();          // [B, ch, R, R]
        h.Dispose();
        var image = _output.Conv.call(activated);              // [B, 3, R, R]
        activated.Dispose();
        if (ChannelsLast) image = image.contiguous();
        image = image.tanh_();
        return (reduced ? image.to(ScalarType.Float32) : image).MoveToOuterDisposeScope();
    }

    private void ValidateInputs(Tensor z, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(y);
        if (z.dim() != 2 || z.shape[1] != DimZ)
            throw new ArgumentException(
                $"z must have shape [batch, {DimZ}] (dim_z {Config.DimZ} rounded down to {Config.NumSlots} chunks of {Config.ZChunkSize}); got [{string.Join(", ", z.shape)}].", nameof(z));
        if (y.dim() != 2 || y.shape[1] != EmbeddingDim)
            throw new ArgumentException(
                $"y must have shape [batch, {EmbeddingDim}] (a class embedding, e.g. from ClassEmbedding); got [{string.Join(", ", y.shape)}].", nameof(y));
        if (z.shape[0] != y.shape[0])
            throw new ArgumentException($"z and y must have the same batch size; got {z.shape[0]} and {y.shape[0]}.", nameof(y));
        var dtype = _shared.weight!.dtype;
        bool Accepted(Tensor t) => t.dtype == dtype || (Models.ModelPrecision.IsReduced(dtype) && t.dtype == ScalarType.Float32);
        if (!Accepted(z) || !Accepted(y))
            throw new ArgumentException($"z and y must be {dtype} like the generator's weights (float32 unless converted); got {z.dtype} and {y.dtype}.", nameof(z));
        var device = Device;
        if (z.device_type != device.type || y.device_type != device.type)
            throw new ArgumentException(
                $"z and y must be on the generator's device ({device}); got {z.device} and {y.device}. Move them with .to(generator.Device).", nameof(z));
    }
}
