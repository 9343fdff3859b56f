using System.Globalization;
using System.Text;
using FuseDream.Tests.Support;
using FuseDream.Text;

namespace FuseDream.Tests.Text;

/// <summary>
/// CLIP's text cleaning against the data <c>scripts/generate-text-cases.py</c> derived from ftfy's
/// own tables and rules (one group per fix <c>fix_text</c> applies by default) and from Python's
/// <c>str.lower</c> over the whole Unicode range (<c>Fixtures/text/</c>; the versions are in each
/// file's first line). Every case is checked; a failure lists the differing cases by group.
/// </summary>
public class FtfyTableTests
{
    private static string TextFixture(string name) => Path.Combine(FixtureSets.Root, "text", name);

    [Fact]
    public void FixText_MatchesFtfy_ForEveryGeneratedCase() =>
        AssertEveryCase(row => (row.FixText, PromptCleaner.FixText(row.Input)));

    [Fact]
    public void Clean_MatchesClipsCleanup_ForEveryGeneratedCase() =>
        AssertEveryCase(row => (row.Cleaned, PromptCleaner.Clean(row.Input)));

    [Fact]
    public void GeneratedCases_CoverEveryFixOfFixText()
    {
        var groups = ReadCases().Select(r => r.Group).ToHashSet();
        foreach (var expected in new[]
                 {
                     "ligature", "width", "quotes", "line-break", "html-entity", "html-numeric", "html-rule", "control",
                     "terminal-escape", "surrogate", "nfc", "mojibake-latin-1", "mojibake-windows-1252", "mojibake-windows-1251",
                     "mojibake-windows-1250", "mojibake-windows-1253", "mojibake-windows-1254", "mojibake-windows-1257",
                     "mojibake-iso-8859-2", "mojibake-macroman", "mojibake-cp437", "mojibake-double", "mojibake-nbsp",
                     "mojibake-lossy", "mojibake-mixed", "mojibake-c1", "mojibake-rule", "lower-context", "whitespace",
                 })
            Assert.Contains(expected, groups);
    }

    [Fact]
    public void Lower_MatchesPythonStrLower_OverTheWholeUnicodeRange()
    {
        var expected = new Dictionary<int, string>();
        foreach (var fields in ReadTsv("python-lower.tsv"))
            expected[int.Parse(fields[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture)] = Unescape(fields[1]);
        Assert.True(expected.Count > 1000, $"only {expected.Count} lower-case mappings read");

        var failures = new List<string>();
        var mapped = 0;
        for (var cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            var s = char.ConvertFromUtf32(cp);
            var want = expected.TryGetValue(cp, out var lower) ? lower : s;
            var got = PromptCleaner.PythonLower(s);
            if (got != want) failures.Add($"U+{cp:X4}: {Show(got)}, Python {Show(want)}");
            else if (want != s) mapped++;
        }
        Assert.True(failures.Count == 0, $"{failures.Count} code points lower-case differently:\n" + string.Join("\n", failures.Take(60)));
        Assert.Equal(expected.Count, mapped);
    }

    /// <summary>
    /// str.lower turns Σ into ς only after a cased character (case-ignorable ones skipped) and not before
    /// one. For every code point c, "c Σ" and "A c Σ" and "A Σ c" must come out as Python's classes say.
    /// </summary>
    [Fact]
    public void FinalSigma_ReadsPythonsCasedAndCaseIgnorableClasses_OverTheWholeUnicodeRange()
    {
        var ignorable = new HashSet<int>();
        var cased = new HashSet<int>();
        foreach (var f in ReadTsv("python-case.tsv"))
        {
            var set = f[0] == "i" ? ignorable : f[0] == "c" ? cased : throw new InvalidDataException($"unknown class {f[0]}");
            var first = int.Parse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var last = int.Parse(f[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            for (var cp = first; cp <= last; cp++) set.Add(cp);
        }
        Assert.NotEmpty(ignorable);
        Assert.NotEmpty(cased);

        var failures = new List<string>();
        for (var cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            var c = char.ConvertFromUtf32(cp);
            var isIgnorable = ignorable.Contains(cp);
            var isCased = cased.Contains(cp);
            if (EndsInFinalSigma(c + "\u03A3") != isCased)
                failures.Add($"U+{cp:X4} before Σ: final={!isCased}");
            if (EndsInFinalSigma("A" + c + "\u03A3") != (isCased || isIgnorable))
                failures.Add($"U+{cp:X4} between A and Σ: final={!(isCased || isIgnorable)}");
            var after = PromptCleaner.PythonLower("A\u03A3" + c);
            if (after[1] == '\u03C2' == (isCased && !isIgnorable))
                failures.Add($"U+{cp:X4} after Σ: final={!(isCased && !isIgnorable)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} differences:\n" + string.Join("\n", failures.Take(60)));
    }

    private static bool EndsInFinalSigma(string s) => PromptCleaner.PythonLower(s).EndsWith('\u03C2');

    private sealed record CaseRow(int Line, string Group, string Input, string FixText, string Cleaned);

    private static void AssertEveryCase(Func<CaseRow, (string Expected, string Actual)> check)
    {
        var rows = ReadCases();
        Assert.True(rows.Count > 5000, $"only {rows.Count} cases read");
        var failures = new List<(CaseRow Row, string Expected, string Actual)>();
        foreach (var row in rows)
        {
            var (expected, actual) = check(row);
            if (expected != actual) failures.Add((row, expected, actual));
        }
        if (failures.Count == 0) return;
        var report = new StringBuilder($"{failures.Count} of {rows.Count} cases differ:\n");
        foreach (var group in failures.GroupBy(f => f.Row.Group))
        {
            report.Append($"[{group.Key}] {group.Count()} cases\n");
            foreach (var (row, expected, actual) in group.Take(8))
                report.Append($"  line {row.Line}: {Show(row.Input)} -> {Show(actual)}, expected {Show(expected)}\n");
        }
        Assert.Fail(report.ToString());
    }

    private static List<CaseRow> ReadCases()
    {
        var rows = new List<CaseRow>();
        var line = 0;
        foreach (var raw in File.ReadLines(TextFixture("ftfy-cases.tsv")))
        {
            line++;
            if (raw.Length == 0 || raw[0] == '#') continue;
            var f = raw.Split('\t');
            if (f.Length != 4) throw new InvalidDataException($"ftfy-cases.tsv line {line}: {f.Length} fields");
            rows.Add(new CaseRow(line, f[0], Unescape(f[1]), Unescape(f[2]), Unescape(f[3])));
        }
        return rows;
    }

    private static IEnumerable<string[]> ReadTsv(string name) =>
        File.ReadLines(TextFixture(name)).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t'));

    /// <summary>The generator's escapes: \\, \t, \n, \r, \uXXXX (one UTF-16 unit), \UXXXXXXXX.</summary>
    internal static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\') { sb.Append(s[i]); continue; }
            var e = s[++i];
            switch (e)
            {
                case '\\': sb.Append('\\'); break;
                case 't': sb.Append('\t'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 'u':
                    sb.Append((char)int.Parse(s.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                case 'U':
                    sb.Append(char.ConvertFromUtf32(int.Parse(s.AsSpan(i + 1, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                    i += 8;
                    break;
                default: throw new InvalidDataException($"unknown escape \\{e} in {s}");
            }
        }
        return sb.ToString();
    }

    private static string Show(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
            sb.Append(c is >= ' ' and <= '~' ? c.ToString() : $"\\u{(int)c:X4}");
        return sb.Append('"').ToString();
    }
}
