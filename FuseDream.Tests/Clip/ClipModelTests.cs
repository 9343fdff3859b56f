using FuseDream.Checkpoints;
using FuseDream.Clip;
using FuseDream.Tests.Support;
using FuseDream.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace FuseDream.Tests.Clip;

/// <summary>Behaviour of the loaded model beyond parity: frozen, differentiable in the image, precise load errors.</summary>
public class ClipModelTests
{
    private static string StateDictPath => Path.Combine(FixtureSets.Root, "clip", "clip_tiny_state_dict.pt");

    [Fact]
    public void LoadedModel_IsFrozen_InEvalMode_AndFp32()
    {
        using var model = ClipCheckpoint.Load(StateDictPath);
        Assert.False(model.training);
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.All(model.modules(), m => Assert.False(m.training));
    }

    [Fact]
    public void CosineScore_HasFiniteNonZeroGradient_WithRespectToImage()
    {
        using var model = ClipCheckpoint.Load(StateDictPath);
        using var scope = NewDisposeScope();
        var r = model.InputResolution;
        var pixels = HashUniform.Generate(2L * 3 * r * r, salt: 7);
        var image01 = (tensor(pixels).view(2, 3, r, r) + 1) / 2;
        var leaf = image01.detach().requires_grad_(true);
        var tokens = tensor(ClipTokenizer.Default.TokenizeBatch(["a photo of a cat", "a red sports car"])).view(2, ClipTokenizer.ContextLength);
        Tensor textFeatures;
        using (no_grad()) textFeatures = model.EncodeText(tokens);
        Assert.False(textFeatures.requires_grad);

        var score = ClipModel.CosineSimilarity(model.EncodeImage(ClipPreprocessing.Normalize(leaf)), textFeatures).mean();
        score.backward();

        var grad = leaf.grad;
        Assert.NotNull(grad);
        Assert.True(grad!.isfinite().all().item<bool>(), "image gradient has non-finite values");
        Assert.True(grad.abs().max().item<float>() > 0, "image gradient is all zero");
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void CosineSimilarity_IsLogitsPerImageOverLogitScale()
    {
        using var model = ClipCheckpoint.Load(StateDictPath);
        using var scope = NewDisposeScope();
        var r = model.InputResolution;
        var image = tensor(HashUniform.Generate(3L * 3 * r * r, salt: 11)).view(3, 3, r, r);
        var tokens = tensor(ClipTokenizer.Default.TokenizeBatch(["a dog", "a castle at sunset"])).view(2, ClipTokenizer.ContextLength);
        using var _ = no_grad();
        var (perImage, perText) = model.Forward(image, tokens);
        var cosine = ClipModel.CosineSimilarity(model.EncodeImage(image), model.EncodeText(tokens));
        Assert.Equal([3L, 2L], perImage.shape);
        TensorAssert.Close(perImage / model.LogitScaleExp, cosine, 1e-6, 1e-5, "cosine");
        TensorAssert.Close(perImage.t(), perText, 0, 0, "logits_per_text");
    }

    [Fact]
    public void SafetensorsCheckpoint_LoadsToTheSameModel()
    {
        var path = Path.Combine(Path.GetTempPath(), $"clip-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var tensors = new TensorSet(StateDictPath))
            using (var file = File.Create(path))
                TorchSharp.PyBridge.Safetensors.SaveStateDict(file, tensors.Dict);
            using var fromSafetensors = ClipCheckpoint.Load(path);
            using var fromTorchSave = ClipCheckpoint.Load(StateDictPath);
            using var scope = NewDisposeScope();
            var tokens = tensor(ClipTokenizer.Default.TokenizeBatch(["a lighthouse at night"])).view(1, 77);
            TensorAssert.Close(fromTorchSave.EncodeText(tokens), fromSafetensors.EncodeText(tokens), 0, 0, "text features");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingKey_IsNamed()
    {
        using var tensors = new TensorSet(StateDictPath);
        tensors.Remove("visual.ln_pre.bias");
        var ex = Assert.Throws<ClipStateDictException>(() => ClipCheckpoint.FromStateDict(tensors.Dict));
        Assert.Equal(["visual.ln_pre.bias"], ex.MissingKeys);
        Assert.Empty(ex.UnexpectedKeys);
        Assert.Contains("missing key(s): 'visual.ln_pre.bias'", ex.Message);
    }

    [Fact]
    public void RenamedKey_IsReportedAsMissingAndUnexpected()
    {
        using var tensors = new TensorSet(StateDictPath);
        tensors.Rename("ln_final.bias", "ln_final.beta");
        var ex = Assert.Throws<ClipStateDictException>(() => ClipCheckpoint.FromStateDict(tensors.Dict));
        Assert.Equal(["ln_final.bias"], ex.MissingKeys);
        Assert.Equal(["ln_final.beta"], ex.UnexpectedKeys);
        Assert.Contains("'ln_final.bias'", ex.Message);
        Assert.Contains("'ln_final.beta'", ex.Message);
    }

    [Fact]
    public void WrongShape_IsNamedWithBothShapes()
    {
        using var tensors = new TensorSet(StateDictPath);
        tensors.Replace("visual.ln_post.weight", ones(7));
        var ex = Assert.Throws<ClipStateDictException>(() => ClipCheckpoint.FromStateDict(tensors.Dict));
        Assert.Equal(["visual.ln_post.weight"], ex.MismatchedKeys);
        Assert.Contains("'visual.ln_post.weight' is [7], the model expects [128]", ex.Message);
    }

    [Fact]
    public void ResNetStateDict_IsRejectedClearly()
    {
        using var tensors = new TensorSet(StateDictPath);
        tensors.Remove("visual.proj");
        tensors.Replace("visual.layer1.0.conv1.weight", ones(1));
        var ex = Assert.Throws<ClipStateDictException>(() => ClipCheckpoint.FromStateDict(tensors.Dict));
        Assert.Contains("ResNet", ex.Message);
    }

    [Fact]
    public void ArchiveMetadataKeys_AreIgnored_AndFp16IsUpcast()
    {
        using var tensors = new TensorSet(Path.Combine(FixtureSets.Root, "clip", "clip_tiny_jit.pt"));
        Assert.True(tensors.Dict.ContainsKey("input_resolution"));
        Assert.Equal(ScalarType.Float16, tensors.Dict["visual.conv1.weight"].dtype);
        using var model = ClipCheckpoint.FromStateDict(tensors.Dict);
        var loaded = model.state_dict()["visual.conv1.weight"];
        Assert.Equal(ScalarType.Float32, loaded.dtype);
        TensorAssert.Close(tensors.Dict["visual.conv1.weight"].to(float32), loaded, 0, 0, "visual.conv1.weight");
    }

    [Fact]
    public void WrongInputShapes_GiveErrorsThatSayWhatIsExpected()
    {
        using var model = ClipCheckpoint.Load(StateDictPath);
        using var scope = NewDisposeScope();
        var image = Assert.Throws<ArgumentException>(() => model.EncodeImage(zeros(1, 3, 64, 64)));
        Assert.Contains("[B, 3, 224, 224]", image.Message);
        var text = Assert.Throws<ArgumentException>(() => model.EncodeText(zeros(new long[] { 1, 10 }, int64)));
        Assert.Contains("[B, 77]", text.Message);
    }

    /// <summary>A checkpoint's tensors as an editable dictionary, disposed together.</summary>
    private sealed class TensorSet(string path) : IDisposable
    {
        public Dictionary<string, Tensor> Dict { get; } = CheckpointReader.ReadTensors(path);

        public void Remove(string key)
        {
            Assert.True(Dict.Remove(key, out var t), $"fixture lacks {key}");
            t!.Dispose();
        }

        public void Rename(string from, string to)
        {
            Assert.True(Dict.Remove(from, out var t), $"fixture lacks {from}");
            Dict[to] = t!;
        }

        public void Replace(string key, Tensor value)
        {
            if (Dict.Remove(key, out var old)) old.Dispose();
            Dict[key] = value;
        }

        public void Dispose()
        {
            foreach (var t in Dict.Values) t.Dispose();
        }
    }
}

public class ClipModelMemoryAndRandomTests
{
    private static readonly ClipConfig Tiny = new(EmbedDim: 16, ImageResolution: 32, VisionLayers: 2, VisionWidth: 64,
        VisionPatchSize: 8, ContextLength: 77, VocabSize: 49408, TransformerWidth: 64, TransformerHeads: 1, TransformerLayers: 2);

    [Fact]
    public void OptimisationSteps_LeaveNoLiveTensorsBehind()
    {
        using var model = ClipRandomInit.Create(Tiny, new Generator(3));
        using var tokens = tensor(ClipTokenizer.Default.TokenizeBatch(["a cat"])).view(1, 77);
        using var text = model.EncodeText(tokens).detach();
        using var latent = randn([2, 3, 32, 32], generator: new Generator(4)).requires_grad_(true);
        void Step()
        {
            using var scope = NewDisposeScope();
            var score = ClipModel.CosineSimilarity(model.EncodeImage(ClipPreprocessing.Normalize(latent.sigmoid())), text).mean();
            score.backward();
            using (no_grad()) latent.add_(latent.grad!, alpha: 0.1);
            latent.grad!.zero_();
        }
        Step();
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 5; i++) Step();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void RandomModel_IsReproducibleFromItsGenerator_AndLoadsBackFromItsStateDict()
    {
        using var a = ClipRandomInit.Create(Tiny, new Generator(5));
        using var b = ClipRandomInit.Create(Tiny, new Generator(5));
        using var c = ClipCheckpoint.FromStateDict(a.state_dict());
        using var scope = NewDisposeScope();
        var image = randn([1, 3, 32, 32], generator: new Generator(6));
        TensorAssert.Close(a.EncodeImage(image), b.EncodeImage(image), 0, 0, "same generator");
        TensorAssert.Close(a.EncodeImage(image), c.EncodeImage(image), 0, 0, "state dict round trip");
        using var other = ClipRandomInit.Create(Tiny, new Generator(7));
        Assert.False(a.EncodeImage(image).equal(other.EncodeImage(image)).all().item<bool>(), "another generator gave the same model");
        Assert.Equal(Tiny, c.Config);
    }
}
