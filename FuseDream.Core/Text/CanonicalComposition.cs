using System.Globalization;
using System.Reflection;
using System.Text;

namespace FuseDream.Text;

/// <summary>
/// Unicode NFC (UAX #15: canonical decomposition, canonical ordering, canonical composition),
/// from tables computed by Python's <c>unicodedata</c> so that it matches ftfy. Needed because
/// the processes run with invariant globalisation, where <c>string.Normalize</c> does not compose.
/// </summary>
internal static class CanonicalComposition
{
    private const string ResourceName = "FuseDream.Text.unicode-nfc.tsv";
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, int[]> Decompositions = new();
    private static readonly Dictionary<int, byte> CombiningClasses = new();
    private static readonly Dictionary<(int, int), int> Composites = new();

    // BMP code points that NFC may change or that may combine with a neighbour; all others pass through.
    private static readonly bool[] AffectsNfc = new bool[0x10000];

    static CanonicalComposition()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing from FuseDream.Core.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var f = line.Split('\t');
            var cp = Hex(f[1]);
            switch (f[0])
            {
                case "d": Decompositions[cp] = f[2].Split(' ').Select(Hex).ToArray(); break;
                case "c": CombiningClasses[cp] = byte.Parse(f[2], CultureInfo.InvariantCulture); break;
                case "p": Composites[(cp, Hex(f[2]))] = Hex(f[3]); break;
            }
        }
        foreach (var cp in Decompositions.Keys.Concat(CombiningClasses.Keys).Concat(Composites.Keys.Select(k => k.Item2)))
            if (cp < 0x10000) AffectsNfc[cp] = true;
        for (var cp = LBase; cp < LBase + LCount; cp++) AffectsNfc[cp] = true;
        for (var cp = VBase; cp < VBase + VCount; cp++) AffectsNfc[cp] = true;
        for (var cp = TBase + 1; cp < TBase + TCount; cp++) AffectsNfc[cp] = true;
        for (var cp = SBase; cp < SBase + SCount; cp++) AffectsNfc[cp] = true;
    }

    private static int Hex(string s) => int.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public static string Normalize(string text)
    {
        // Text without any character that decomposes, combines or composes is already NFC: most prompts stop here.
        var quick = true;
        foreach (var c in text)
            if (c >= '\u0300' && (AffectsNfc[c] || char.IsSurrogate(c))) { quick = false; break; }
        if (quick) return text;

        var cps = new List<int>(text.Length + 8);
        foreach (var rune in text.EnumerateRunes()) Decompose(rune.Value, cps);
        Reorder(cps);
        Compose(cps);
        var sb = new StringBuilder(cps.Count + 8);
        foreach (var cp in cps)
        {
            if (cp < 0x10000) sb.Append((char)cp);
            else sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    private static int Ccc(int cp) => CombiningClasses.TryGetValue(cp, out var k) ? k : 0;

    private static void Decompose(int cp, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            var s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (Decompositions.TryGetValue(cp, out var parts))
        {
            foreach (var p in parts) Decompose(p, output);
            return;
        }
        output.Add(cp);
    }

    // Stable sort of each run of non-starters by combining class.
    private static void Reorder(List<int> cps)
    {
        for (var i = 1; i < cps.Count; i++)
        {
            var k = Ccc(cps[i]);
            if (k == 0) continue;
            var j = i;
            while (j > 0 && Ccc(cps[j - 1]) > k)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
    }

    private static int PairComposite(int first, int second)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
            return SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
            return first + (second - TBase);
        return Composites.TryGetValue((first, second), out var c) ? c : -1;
    }

    private static void Compose(List<int> cps)
    {
        if (cps.Count == 0) return;
        var starterPos = 0;
        var starter = cps[0];
        var lastClass = Ccc(starter) == 0 ? 0 : 256; // a leading combining mark blocks composition
        var compPos = 1;
        for (var i = 1; i < cps.Count; i++)
        {
            var ch = cps[i];
            var chClass = Ccc(ch);
            var composite = PairComposite(starter, ch);
            if (composite >= 0 && (lastClass < chClass || lastClass == 0))
            {
                cps[starterPos] = composite;
                starter = composite;
                continue;
            }
            if (chClass == 0)
            {
                starterPos = compPos;
                starter = ch;
            }
            lastClass = chClass;
            cps[compPos++] = ch;
        }
        cps.RemoveRange(compPos, cps.Count - compPos);
    }
}
