using System.Text.Json;
using FuseDream.Tests.Support;
using FuseDream.Text;

namespace FuseDream.Tests.Text;

/// <summary>
/// Every tokenizer fixture set (a folder under Fixtures/tokenizer holding cases.json) against
/// openai/CLIP's <c>clip.tokenize</c>: ids, untruncated count and raises-or-not, exactly.
/// A set may carry its own vocabulary (<c>vocab_file</c>); the default tokenizer is used
/// when that file is byte-for-byte CLIP's embedded one.
/// </summary>
public class ClipTokenizerParityTests
{
    public static TheoryData<string> Sets => FixtureSets.Theory("tokenizer", "cases.json");

    [Theory]
    [MemberData(nameof(Sets))]
    public void Tokenize_MatchesClipTokenize_ForEveryCase(string set)
    {
        using var doc = FixtureSets.Load(set);
        var root = doc.RootElement;
        var tokenizer = TokenizerFor(set, root);
        var contextLength = root.GetProperty("context_length").GetInt32();
        Assert.Equal(ClipTokenizer.ContextLength, contextLength);
        var failures = new List<string>();
        var cases = root.GetProperty("cases").EnumerateArray().ToList();
        Assert.NotEmpty(cases);
        foreach (var c in cases)
        {
            var text = c.GetProperty("text").GetString()!;
            var label = $"[{c.GetProperty("category").GetString()}] {JsonSerializer.Serialize(text)}";
            var expectedIds = c.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var expectedCount = c.GetProperty("token_count_untruncated").GetInt32();
            var expectedRaises = c.GetProperty("raises_without_truncate").GetBoolean();

            if (c.TryGetProperty("debug_cleaned_text", out var cleaned) && PromptCleaner.Clean(text) != cleaned.GetString())
                failures.Add($"{label}: cleaned to {JsonSerializer.Serialize(PromptCleaner.Clean(text))}, expected {JsonSerializer.Serialize(cleaned.GetString())}");

            var truncated = tokenizer.Tokenize(text, truncate: true);
            if (!truncated.Ids.SequenceEqual(expectedIds))
                failures.Add($"{label}: ids [{string.Join(",", truncated.Ids.Where(i => i != 0))}], expected [{string.Join(",", expectedIds.Where(i => i != 0))}]");
            if (truncated.TokenCount != expectedCount || tokenizer.CountTokens(text) != expectedCount)
                failures.Add($"{label}: count {truncated.TokenCount}, expected {expectedCount}");
            if (truncated.Truncated != expectedCount > contextLength)
                failures.Add($"{label}: Truncated={truncated.Truncated} with count {expectedCount}");

            var raised = false;
            try
            {
                var strict = tokenizer.Tokenize(text, truncate: false);
                if (!strict.Ids.SequenceEqual(expectedIds))
                    failures.Add($"{label}: ids without truncation differ");
            }
            catch (PromptTooLongException ex)
            {
                raised = true;
                if (ex.TokenCount != expectedCount || ex.Limit != contextLength)
                    failures.Add($"{label}: exception says {ex.TokenCount}/{ex.Limit}");
            }
            if (raised != expectedRaises)
                failures.Add($"{label}: raised={raised}, expected {expectedRaises}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases differ:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void EmbeddedVocabulary_IsClipsFile()
    {
        using var doc = FixtureSets.Load(Path.Combine("tokenizer", "cases.json"));
        var expected = doc.RootElement.GetProperty("vocab_sha256").GetString();
        Assert.Equal(expected, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(EmbeddedVocabulary())));
        Assert.Equal(49408, ClipTokenizer.Default.VocabularySize);
    }

    private static byte[] EmbeddedVocabulary()
    {
        using var stream = typeof(ClipTokenizer).Assembly.GetManifestResourceStream("FuseDream.Text.bpe_simple_vocab_16e6.txt.gz")!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static ClipTokenizer TokenizerFor(string set, JsonElement root)
    {
        if (!root.TryGetProperty("vocab_file", out var vocab)) return ClipTokenizer.Default;
        var path = FixtureSets.Resolve(set, vocab.GetString()!);
        var bytes = File.ReadAllBytes(path);
        if (bytes.AsSpan().SequenceEqual(EmbeddedVocabulary())) return ClipTokenizer.Default;
        return new ClipTokenizer(new MemoryStream(bytes));
    }
}
