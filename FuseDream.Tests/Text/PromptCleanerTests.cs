using FuseDream.Text;

namespace FuseDream.Tests.Text;

/// <summary>
/// The pieces of CLIP's cleanup and pre-tokenisation beyond the fixture cases. Expected values
/// were produced with Python 3.11 (<c>html.unescape</c>, <c>str.lower</c>) and the <c>regex</c>
/// module running CLIP's pattern.
/// </summary>
public class PromptCleanerTests
{
    [Theory]
    [InlineData("&amp;", "&")]
    [InlineData("&amp", "&")]
    [InlineData("&ampxyz;", "&xyz;")]
    [InlineData("&notin;", "\u2209")]
    [InlineData("&notit;", "\u00acit;")]
    [InlineData("&#65;", "A")]
    [InlineData("&#x41;", "A")]
    [InlineData("&#X41", "A")]
    [InlineData("&#128;", "\u20ac")]
    [InlineData("&#0;", "\ufffd")]
    [InlineData("&#xD800;", "\ufffd")]
    [InlineData("&#1114112;", "\ufffd")]
    [InlineData("&#11;", "")]
    [InlineData("&#xFFFF;", "")]
    [InlineData("&#99999999999999999999;", "\ufffd")]
    [InlineData("& amp;", "& amp;")]
    [InlineData("&#;", "&#;")]
    [InlineData("&#x;", "&#x;")]
    [InlineData("&lt;&gt", "<>")]
    [InlineData("&AMP;", "&")]
    [InlineData("&Eacute;&eacute", "\u00c9\u00e9")]
    [InlineData("&unknown;", "&unknown;")]
    [InlineData("a&&b", "a&&b")]
    [InlineData("&#39;quoted&#39;", "'quoted'")]
    public void HtmlUnescape_MatchesPython(string input, string expected) =>
        Assert.Equal(expected, HtmlEntities.PythonUnescape(input));

    [Theory]
    [InlineData("\u03a3\u0391\u03a3 \u03a3\u0391\u03a3.", "\u03c3\u03b1\u03c2 \u03c3\u03b1\u03c2.")]
    [InlineData("\u03a3", "\u03c3")]
    [InlineData("\u0391\u03a3'\u03a3", "\u03b1\u03c3'\u03c2")]
    [InlineData("\ud801\udc00\ud801\udc01", "\ud801\udc28\ud801\udc29")]
    [InlineData("\u038c\u03a3\u039f\u03a3-\u039a\u0391\u0399", "\u03cc\u03c3\u03bf\u03c2-\u03ba\u03b1\u03b9")]
    [InlineData("\u0130stanbul", "i\u0307stanbul")]
    public void Lower_MatchesPythonStrLower(string input, string expected) =>
        Assert.Equal(expected, PromptCleaner.PythonLower(input));

    [Theory]
    [InlineData("\ud835\udc21\ud835\udc1e\ud835\udc25\ud835\udc25\ud835\udc28 world", new[] { "\ud835\udc21\ud835\udc1e\ud835\udc25\ud835\udc25\ud835\udc28", "world" })]
    [InlineData("it'\u017f ok", new[] { "it", "'\u017f", "ok" })]
    [InlineData("!'s?", new[] { "!'", "s", "?" })]
    [InlineData("x<|endoftext|>y", new[] { "x", "<|endoftext|>", "y" })]
    [InlineData("abc!<|endoftext|>", new[] { "abc", "!<|", "endoftext", "|>" })]
    [InlineData("'ll've'd", new[] { "'ll", "'ve", "'d" })]
    [InlineData("\u0967\u0968\u0969 \u00bd \u2177", new[] { "\u0967", "\u0968", "\u0969", "\u00bd", "\u2177" })]
    [InlineData("\ud801\udc28\ud801\udc2f deseret", new[] { "\ud801\udc28\ud801\udc2f", "deseret" })]
    [InlineData("a\u0301b", new[] { "a", "\u0301", "b" })]
    [InlineData("rock'n'roll", new[] { "rock", "'", "n", "'", "roll" })]
    [InlineData("\u00ff'S", new[] { "\u00ff", "'S" })]
    public void PreTokenizer_MatchesClipRegex(string input, string[] expected)
    {
        var pieces = new List<string>();
        ByteLevelPreTokenizer.Split(input, pieces);
        Assert.Equal(expected, pieces);
    }

    [Theory]
    [InlineData("caf\u00c3\u00a9 cr\u00c3\u00a8me", "caf\u00e9 cr\u00e8me")]                 // UTF-8 read as Latin-1
    [InlineData("\u6771\u4eac don\u00e2\u20ac\u2122t", "\u6771\u4eac don't")]                 // fixed in isolation, then uncurled
    [InlineData("na\u00efve caf\u00e9", "na\u00efve caf\u00e9")]                             // real Latin-1 text stays
    [InlineData("\u0092quoted\u0092", "'quoted'")]                                          // C1 control read as Windows-1252
    [InlineData("&lt;b&gt; &rsquo;", "<b> '")]                                              // entities decoded once, before any '<' exists
    [InlineData("a &rsquo; b", "a ' b")]                                                    // ftfy unescapes, then uncurls
    [InlineData("<b> &rsquo;", "<b> &rsquo;")]                                              // text with '<' keeps its entities in ftfy
    [InlineData("\u0133 \ufb06", "ij st")]
    [InlineData("\uff21\uff42\uff43\uff11 \uff71", "Abc1 \u30a2")]                           // full width and half-width katakana
    [InlineData("line\u2028break\r\nend", "line\nbreak\nend")]
    [InlineData("e\u0301\u0323", "\u1eb9\u0301")]                                            // NFC with canonical reordering
    [InlineData("\u1100\u1161\u11a8", "\uac01")]                                             // Hangul composition
    public void FixText_AppliesFtfyFixes(string input, string expected) =>
        Assert.Equal(expected, PromptCleaner.FixText(input));
}
