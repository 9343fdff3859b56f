using System.IO.Compression;
using System.Text;

namespace FuseDream.Text;

/// <summary>
/// CLIP's byte-level BPE (openai/CLIP <c>SimpleTokenizer</c>): UTF-8 bytes mapped to printable
/// characters by <c>bytes_to_unicode</c>, the word's last symbol marked with <c>&lt;/w&gt;</c>,
/// then the lowest-ranked merge applied until none applies.
/// <para>
/// Two bounds the original does not have, so that one request's work and the service's memory
/// stay small whatever the prompt. A pass over a word of n symbols costs up to n² pair lookups,
/// so a word longer than <see cref="MaxWordCharacters"/> is cut into chunks of at most that many
/// characters (never inside a surrogate pair), each merged on its own, only the last one ending
/// with <c>&lt;/w&gt;</c>. Every word up to the bound — every real word in a prompt — is
/// tokenized exactly as CLIP's tokenizer does; a longer "word" (a run of letters or of symbols
/// without spaces) may differ from CLIP's at the chunk boundaries. Results are cached per word,
/// only for words of at most <see cref="MaxCachedWordCharacters"/> characters, in a thread-safe
/// cache of at most <see cref="CacheCapacity"/> words that forgets the least recently used.
/// </para>
/// </summary>
internal sealed class BytePairEncoder
{
    public const int StartOfText = 49406;
    public const int EndOfText = 49407;
    private const int MergeCount = 49152 - 256 - 2;

    private readonly string[] _byteEncoder;
    private readonly Dictionary<string, int> _encoder;
    private readonly Dictionary<(string, string), int> _ranks;
    private readonly BoundedCache<string, int[]> _cache = new(CacheCapacity, StringComparer.Ordinal);
    private long _pairLookups;

    /// <summary>The most words the cache holds.</summary>
    internal const int CacheCapacity = 4096;

    /// <summary>Longest word (in UTF-16 code units) the BPE takes in one piece.</summary>
    internal const int MaxWordCharacters = 100;

    /// <summary>Longest word the cache keeps.</summary>
    internal const int MaxCachedWordCharacters = 32;

    /// <summary>Pairs looked up in the merge ranks so far: the BPE's work, for tests that bound it without a clock.</summary>
    internal long PairLookups => Interlocked.Read(ref _pairLookups);

    /// <summary>Words in the cache now.</summary>
    internal int CacheCount => _cache.Count;

    public BytePairEncoder(Stream gzippedVocabulary)
    {
        using var gzip = new GZipStream(gzippedVocabulary, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        reader.ReadLine(); // version header
        var merges = new List<(string, string)>(MergeCount);
        while (merges.Count < MergeCount && reader.ReadLine() is { } line)
        {
            var space = line.IndexOf(' ');
            if (space <= 0) throw new InvalidDataException($"Malformed BPE merge line {merges.Count + 2}: '{line}'.");
            merges.Add((line[..space], line[(space + 1)..]));
        }
        if (merges.Count != MergeCount)
            throw new InvalidDataException($"The BPE vocabulary holds {merges.Count} merges; CLIP's has {MergeCount}.");

        (_byteEncoder, var byteOrder) = BuildByteEncoder();
        var vocab = new List<string>(49408);
        vocab.AddRange(byteOrder.Select(b => _byteEncoder[b]));
        vocab.AddRange(byteOrder.Select(b => _byteEncoder[b] + "</w>"));
        vocab.AddRange(merges.Select(m => m.Item1 + m.Item2));
        vocab.Add("<|startoftext|>");
        vocab.Add("<|endoftext|>");
        _encoder = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        for (var i = 0; i < vocab.Count; i++) _encoder[vocab[i]] = i;
        _ranks = new Dictionary<(string, string), int>(merges.Count);
        for (var i = 0; i < merges.Count; i++) _ranks[merges[i]] = i;
    }

    public int VocabularySize => _encoder.Count;

    /// <summary>Appends the BPE ids of one pre-token (already lower-cased and cleaned).</summary>
    public void Encode(string token, List<int> ids)
    {
        if (token.Length > MaxWordCharacters)
        {
            // Not cached: a word this long is a one-off, and would hold the cache's memory.
            for (var start = 0; start < token.Length;)
            {
                var length = Math.Min(MaxWordCharacters, token.Length - start);
                if (start + length < token.Length && char.IsHighSurrogate(token[start + length - 1])) length--;
                ids.AddRange(Merge(token.Substring(start, length), endOfWord: start + length == token.Length));
                start += length;
            }
            return;
        }
        if (!_cache.TryGet(token, out var cached))
        {
            cached = EncodeUncached(token);
            if (token.Length <= MaxCachedWordCharacters) _cache.Add(token, cached);
        }
        ids.AddRange(cached);
    }

    private int[] EncodeUncached(string token)
    {
        // The special tokens are pre-seeded in the original's cache: a literal "<|endoftext|>" in a prompt is EOT.
        if (token == "<|startoftext|>") return [StartOfText];
        if (token == "<|endoftext|>") return [EndOfText];
        return Merge(token, endOfWord: true);
    }

    /// <summary>BPE over <paramref name="text"/>'s bytes; <paramref name="endOfWord"/>: its last symbol ends the word.</summary>
    private int[] Merge(string text, bool endOfWord)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var word = new List<string>(bytes.Length);
        foreach (var b in bytes) word.Add(_byteEncoder[b]);
        if (endOfWord) word[^1] += "</w>";

        while (word.Count > 1)
        {
            var best = int.MaxValue;
            (string, string) bigram = default;
            for (var i = 0; i < word.Count - 1; i++)
            {
                if (_ranks.TryGetValue((word[i], word[i + 1]), out var rank) && rank < best)
                {
                    best = rank;
                    bigram = (word[i], word[i + 1]);
                }
            }
            Interlocked.Add(ref _pairLookups, word.Count - 1);
            if (best == int.MaxValue) break;
            var merged = new List<string>(word.Count);
            for (var i = 0; i < word.Count;)
            {
                if (i < word.Count - 1 && word[i] == bigram.Item1 && word[i + 1] == bigram.Item2)
                {
                    merged.Add(bigram.Item1 + bigram.Item2);
                    i += 2;
                }
                else
                {
                    merged.Add(word[i]);
                    i++;
                }
            }
            word = merged;
        }

        var ids = new int[word.Count];
        for (var i = 0; i < word.Count; i++) ids[i] = _encoder[word[i]];
        return ids;
    }

    /// <summary>
    /// <c>bytes_to_unicode</c>: printable bytes map to themselves, the rest to U+0100 onwards.
    /// Also returns the bytes in the original's dict order (printable first), which is the vocabulary's order.
    /// </summary>
    private static (string[] Map, int[] VocabularyOrder) BuildByteEncoder()
    {
        var order = new List<int>(256);
        for (var b = '!'; b <= '~'; b++) order.Add(b);
        for (var b = '¡'; b <= '¬'; b++) order.Add(b);
        for (var b = '®'; b <= 'ÿ'; b++) order.Add(b);
        var map = new string[256];
        foreach (var b in order) map[b] = ((char)b).ToString();
        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            if (map[b] is not null) continue;
            map[b] = ((char)(256 + next++)).ToString();
            order.Add(b);
        }
        return (map, order.ToArray());
    }
}
