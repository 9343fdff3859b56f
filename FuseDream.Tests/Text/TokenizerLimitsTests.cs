using FuseDream.Text;

namespace FuseDream.Tests.Text;

/// <summary>
/// The tokenizer's work per request is bounded: by the BPE's pair lookups and the cache's size,
/// never by a clock. Each test has a tokenizer of its own, so its counters start at zero.
/// </summary>
public class TokenizerLimitsTests
{
    private static string Letters(int count, int seed)
    {
        var random = new Random(seed);
        return new string([.. Enumerable.Range(0, count).Select(_ => (char)('a' + random.Next(26)))]);
    }

    [Fact]
    public void LongWord_CostsAtMostTheBoundPerCharacter_NotItsLengthSquared()
    {
        var tokenizer = ClipTokenizer.LoadEmbedded();
        var word = Letters(PromptRules.MaxCharacters, seed: 1);
        var ids = tokenizer.Encode(word);
        Assert.NotEmpty(ids);
        // One BPE pass over n symbols costs at most n - 1 lookups per merge round and n - 1 rounds:
        // with words cut at MaxWordCharacters, 2,000 letters cost at most 2,000 × that bound,
        // not the ~2,000² / 2 of one 2,000-letter word.
        Assert.InRange(tokenizer.Bpe.PairLookups, 1, (long)word.Length * BytePairEncoder.MaxWordCharacters);
    }

    [Fact]
    public void LongWords_AreNotCached()
    {
        var tokenizer = ClipTokenizer.LoadEmbedded();
        tokenizer.Encode("a photo of a dog");
        var cached = tokenizer.Bpe.CacheCount;
        Assert.Equal(4, cached); // a, photo, of, dog
        tokenizer.Encode(Letters(BytePairEncoder.MaxCachedWordCharacters + 1, seed: 4));
        Assert.Equal(cached, tokenizer.Bpe.CacheCount);
    }

    [Fact]
    public void Cache_NeverHoldsMoreThanItsCapacity_AndEvictedWordsStillEncodeTheSame()
    {
        var tokenizer = ClipTokenizer.LoadEmbedded();
        var first = tokenizer.Encode("zebra").ToArray();
        for (var i = 0; i < BytePairEncoder.CacheCapacity + 500; i++)
            tokenizer.Encode(Word(i));
        Assert.InRange(tokenizer.Bpe.CacheCount, 1, BytePairEncoder.CacheCapacity);
        Assert.Equal(first, tokenizer.Encode("zebra"));

        static string Word(int i)
        {
            var chars = new List<char>();
            do { chars.Add((char)('a' + i % 26)); i /= 26; } while (i > 0);
            return "w" + new string([.. chars]);
        }
    }

    [Fact]
    public void Cache_UnderConcurrentUse_GivesTheSameIdsAsOneThread()
    {
        var words = Enumerable.Range(0, 2000).Select(i => Letters(3 + i % 12, seed: 100 + i)).ToArray();
        var reference = ClipTokenizer.LoadEmbedded();
        var expected = words.Select(w => reference.Encode(w).ToArray()).ToArray();
        var shared = ClipTokenizer.LoadEmbedded();
        var actual = new int[words.Length][];
        Parallel.For(0, words.Length * 4, i => actual[i % words.Length] = [.. shared.Encode(words[i % words.Length])]);
        Assert.All(Enumerable.Range(0, words.Length), i => Assert.Equal(expected[i], actual[i]));
        Assert.InRange(shared.Bpe.CacheCount, 1, BytePairEncoder.CacheCapacity);
    }
}
