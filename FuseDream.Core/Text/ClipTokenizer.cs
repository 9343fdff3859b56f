using System.Reflection;

namespace FuseDream.Text;

/// <summary>
/// CLIP's tokenizer: openai/CLIP <c>clip/simple_tokenizer.py</c> (cleanup, pre-tokenisation,
/// byte-level BPE) and <c>clip.tokenize</c> (start/end tokens, 77-token context, zero padding,
/// optional truncation whose last token becomes the end token). Ids are <c>long</c> because
/// the text encoder takes int64 tokens. Thread-safe.
/// </summary>
public sealed class ClipTokenizer
{
    public const int ContextLength = 77;
    public const int StartOfTextToken = BytePairEncoder.StartOfText;
    public const int EndOfTextToken = BytePairEncoder.EndOfText;
    private const string VocabularyResource = "FuseDream.Text.bpe_simple_vocab_16e6.txt.gz";

    private static readonly Lazy<ClipTokenizer> Shared = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly BytePairEncoder _bpe;

    /// <summary>The tokenizer with CLIP's vocabulary (embedded in this assembly), loaded once.</summary>
    public static ClipTokenizer Default => Shared.Value;

    /// <summary>A tokenizer reading a gzipped vocabulary in CLIP's format (<c>bpe_simple_vocab_16e6.txt.gz</c>).</summary>
    public ClipTokenizer(Stream gzippedVocabulary)
    {
        ArgumentNullException.ThrowIfNull(gzippedVocabulary);
        _bpe = new BytePairEncoder(gzippedVocabulary);
    }

    /// <summary>A new tokenizer on the embedded vocabulary, with its own (empty) BPE cache.</summary>
    public static ClipTokenizer LoadEmbedded()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(VocabularyResource)
            ?? throw new InvalidOperationException($"Embedded resource {VocabularyResource} is missing from FuseDream.Core.");
        return new ClipTokenizer(stream);
    }

    /// <summary>The BPE stage, for tests that measure its work and its cache.</summary>
    internal BytePairEncoder Bpe => _bpe;

    /// <summary>Number of entries in the vocabulary (49408 for CLIP).</summary>
    public int VocabularySize => _bpe.VocabularySize;

    /// <summary>The BPE ids of the text, without start/end tokens (<c>SimpleTokenizer.encode</c>).</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<string>();
        ByteLevelPreTokenizer.Split(PromptCleaner.Clean(text), pieces);
        var ids = new List<int>(pieces.Count + 4);
        foreach (var piece in pieces) _bpe.Encode(piece, ids);
        return ids;
    }

    /// <summary>Untruncated token count including <c>&lt;|startoftext|&gt;</c> and <c>&lt;|endoftext|&gt;</c>.</summary>
    public int CountTokens(string text) => Encode(text).Count + 2;

    /// <summary>
    /// Tokenises like <c>clip.tokenize([text], truncate)</c>.
    /// Throws <see cref="PromptTooLongException"/> when the prompt needs more than
    /// <see cref="ContextLength"/> tokens and <paramref name="truncate"/> is false.
    /// </summary>
    public TokenizedText Tokenize(string text, bool truncate = false)
    {
        var bpe = Encode(text);
        var count = bpe.Count + 2;
        if (count > ContextLength && !truncate)
            throw new PromptTooLongException(count, ContextLength, nameof(text));
        var ids = new long[ContextLength];
        ids[0] = StartOfTextToken;
        var body = Math.Min(bpe.Count, ContextLength - 1);
        for (var i = 0; i < body; i++) ids[i + 1] = bpe[i];
        if (count > ContextLength)
            ids[ContextLength - 1] = EndOfTextToken;
        else
            ids[count - 1] = EndOfTextToken;
        return new TokenizedText(ids, count, count > ContextLength);
    }

    /// <summary>Tokenises several prompts into one <c>[count, 77]</c> row-major id array.</summary>
    public long[] TokenizeBatch(IReadOnlyList<string> texts, bool truncate = false)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var all = new long[texts.Count * ContextLength];
        for (var i = 0; i < texts.Count; i++)
            Tokenize(texts[i], truncate).Ids.CopyTo(all, i * ContextLength);
        return all;
    }
}
