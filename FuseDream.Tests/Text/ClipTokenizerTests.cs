using FuseDream.Text;

namespace FuseDream.Tests.Text;

public class ClipTokenizerTests
{
    private static string Words(int n) => string.Join(' ', Enumerable.Repeat("cat", n));

    [Fact]
    public void TooLongPrompt_Throws_NamingCountAndLimit_AndTheWayOut()
    {
        var ex = Assert.Throws<PromptTooLongException>(() => ClipTokenizer.Default.Tokenize(Words(80)));
        Assert.Equal(82, ex.TokenCount);
        Assert.Equal(77, ex.Limit);
        Assert.Contains("82", ex.Message);
        Assert.Contains("77", ex.Message);
        Assert.Contains("Shorten the prompt", ex.Message);
        Assert.Contains("truncation", ex.Message);
        Assert.IsAssignableFrom<ArgumentException>(ex);
    }

    [Fact]
    public void Truncation_KeepsTheFirst76Tokens_AndEndsWithEot()
    {
        var result = ClipTokenizer.Default.Tokenize(Words(80), truncate: true);
        Assert.True(result.Truncated);
        Assert.Equal(82, result.TokenCount);
        Assert.Equal(77, result.Ids.Length);
        Assert.Equal(ClipTokenizer.StartOfTextToken, result.Ids[0]);
        Assert.Equal(ClipTokenizer.EndOfTextToken, result.Ids[76]);
        Assert.All(result.Ids[1..76], id => Assert.Equal(2368, id)); // "cat</w>"
    }

    [Fact]
    public void ShortPrompt_IsZeroPadded_AndNotTruncated()
    {
        var result = ClipTokenizer.Default.Tokenize("a photo of a cat");
        Assert.False(result.Truncated);
        Assert.Equal(7, result.TokenCount);
        Assert.Equal(7, ClipTokenizer.Default.CountTokens("a photo of a cat"));
        Assert.Equal([49406L, 320, 1125, 539, 320, 2368, 49407], result.Ids[..7]);
        Assert.All(result.Ids[7..], id => Assert.Equal(0, id));
    }

    [Fact]
    public void ConcurrentUse_GivesTheSameIdsAsSequentialUse()
    {
        var prompts = Enumerable.Range(0, 400).Select(i => $"prompt {i}: a {(i % 7 == 0 ? "ÇAFÉ" : "castle")} #{i * 37 % 101} “x”").ToArray();
        var fresh = ClipTokenizer.LoadEmbedded();
        var sequential = prompts.Select(p => ClipTokenizer.Default.Tokenize(p).Ids).ToArray();
        var parallel = new long[prompts.Length][];
        Parallel.For(0, prompts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = fresh.Tokenize(prompts[i]).Ids);
        for (var i = 0; i < prompts.Length; i++)
            Assert.Equal(sequential[i], parallel[i]);
    }

    [Fact]
    public void TokenizeBatch_LaysOutRowsOf77()
    {
        var batch = ClipTokenizer.Default.TokenizeBatch(["a dog", "a cat"]);
        Assert.Equal(2 * 77, batch.Length);
        Assert.Equal(ClipTokenizer.Default.Tokenize("a cat").Ids, batch[77..]);
    }
}
