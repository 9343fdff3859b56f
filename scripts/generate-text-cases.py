#!/usr/bin/env python3
"""Generate the text-cleaning test data and CLIP's lower-case table from ftfy and Python.

CLIP's tokenizer (openai/CLIP clip/simple_tokenizer.py) cleans a prompt with
ftfy.fix_text, html.unescape twice, strip, regex.sub(r'\\s+', ' '), strip and str.lower.
This script derives cases from ftfy's own tables and rules, one group per fix that
fix_text applies by default, runs each through ftfy and Python, and writes:

  FuseDream.Tests/Fixtures/text/ftfy-cases.tsv      group, input, fix_text(input), CLIP's cleaned text
  FuseDream.Tests/Fixtures/text/python-lower.tsv    every code point whose str.lower() differs from it
  FuseDream.Tests/Fixtures/text/python-case.tsv     the code points str.lower's final-sigma rule reads
  FuseDream.Tests/Fixtures/tokenizer/ftfy/cases.json clip.tokenize ids for a sample of the cases
  FuseDream.Core/Text/unicode-lower.tsv             the lower-case mapping and final-sigma classes
                                                    that Core embeds (Python's Unicode, not .NET's)
  FuseDream.Core/Text/ftfy-mojibake.tsv             ftfy's data for fix_encoding that Core embeds: the
                                                    single-byte code pages (Python's codecs and ftfy's
                                                    "sloppy" ones) and the character classes of its
                                                    mojibake heuristic and UTF-8 detector

It is a development tool, not a test dependency: its outputs are committed and the tests
read only them. It needs ftfy (6.3.1 was used: `pip install ftfy==6.3.1`, or any copy
of the package on PYTHONPATH) and the `regex` module; the Python's own Unicode version
(unicodedata.unidata_version) decides NFC, widths and casing, so run it with the Python
whose Unicode the tables should follow (3.11: Unicode 14.0.0, as the existing fixtures).

    PYTHONPATH=/path/to/ftfy python3 scripts/generate-text-cases.py

Strings in the TSV files are escaped so that the files are ASCII: backslash, then
'\\\\', 't', 'n', 'r', 'uXXXX' (one UTF-16 code unit, so lone surrogates survive) or
'UXXXXXXXX'; printable ASCII stands for itself.
"""
from __future__ import annotations

import gzip
import html
import html.entities
import json
import os
import sys
import unicodedata
from functools import lru_cache

import ftfy
import regex

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TEXT_FIXTURES = os.path.join(ROOT, "FuseDream.Tests", "Fixtures", "text")
TOKENIZER_SET = os.path.join(ROOT, "FuseDream.Tests", "Fixtures", "tokenizer", "ftfy")
VOCAB = os.path.join(ROOT, "FuseDream.Tests", "Fixtures", "tokenizer", "bpe_simple_vocab_16e6.txt.gz")
CORE_TABLE = os.path.join(ROOT, "FuseDream.Core", "Text", "unicode-lower.tsv")
CORE_MOJIBAKE = os.path.join(ROOT, "FuseDream.Core", "Text", "ftfy-mojibake.tsv")


# ------------------------------------------------------------------ CLIP's cleanup
def clip_clean(text: str) -> str:
    """whitespace_clean(basic_clean(text)).lower(), as SimpleTokenizer.encode does."""
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    text = text.strip()
    text = regex.sub(r"\s+", " ", text)
    return text.strip().lower()


# ------------------------------------------------------------------ escaping
def escape(s: str) -> str:
    out = []
    for ch in s:
        cp = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif 0x20 <= cp <= 0x7E:
            out.append(ch)
        elif cp <= 0xFFFF:
            out.append(f"\\u{cp:04X}")
        else:
            out.append(f"\\U{cp:08X}")
    return "".join(out)


# ------------------------------------------------------------------ case groups
class Cases:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []
        self.seen: set[str] = set()

    def add(self, group: str, text: str) -> None:
        if text in self.seen:
            return
        self.seen.add(text)
        self.rows.append((group, text))

    def add_in_context(self, group: str, piece: str) -> None:
        """The piece alone and between letters, where neighbours can change a fix."""
        self.add(group, piece)
        self.add(group, "a" + piece + "b")


def ligature_cases(c: Cases) -> None:
    # ftfy.chardata.LIGATURES, and NFKC ligatures ftfy leaves alone (it fixes only Latin ones).
    for cp in sorted(ftfy_ligatures()):
        c.add_in_context("ligature", chr(cp))
    for ch in "\u00c6\u00e6\u0152\u0153\ufb13\ufb4f\u01c4\u01f1":
        c.add_in_context("ligature", ch)


def ftfy_ligatures() -> dict[int, str]:
    from ftfy import chardata  # noqa: PLC0415
    return chardata.LIGATURES


def width_cases(c: Cases) -> None:
    # chardata.WIDTH_MAP is U+3000 and every U+FF01..U+FFEF whose NFKC differs; all of the block is listed.
    c.add_in_context("width", "\u3000")
    for cp in range(0xFF00, 0xFFF0):
        c.add_in_context("width", chr(cp))
    c.add("width", "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33")
    c.add("width", "\uff35\uff80\uff70\uff9d")
    c.add("width", "\uff76\uff9e \uff8a\uff9f")  # half-width kana with (semi-)voiced marks: width, then NFC


def quote_cases(c: Cases) -> None:
    for cp in [0x02BC, *range(0x2017, 0x2021), 0x2032, 0x2033, 0x301D, 0x301E, 0xFF02, 0xFF07, 0x00AB, 0x00BB]:
        c.add_in_context("quotes", chr(cp))
    c.add("quotes", "\u201chere\u2019s a test\u201d")


def line_break_cases(c: Cases) -> None:
    for piece in ["\r\n", "\r", "\n", "\u2028", "\u2029", "\x85", "\r\r\n", "\n\r", "\x0b", "\x0c", "\x1c", "\x1d",
                  "\x1e", "\x1f"]:
        c.add_in_context("line-break", piece)
        c.add("line-break", "x" + piece + piece + "y")


def html_cases(c: Cases) -> None:
    from ftfy import chardata  # noqa: PLC0415
    for name in sorted(chardata.HTML_ENTITIES):
        c.add("html-entity", "x" + name + "y")
    # Legacy names without ';' (ftfy leaves them; html.unescape in CLIP's cleanup does not).
    for name in sorted(html.entities.html5):
        if not name.endswith(";"):
            c.add("html-entity", "x&" + name + "y")
            c.add("html-entity", "x&" + name + "z;")
    # Numeric references: the first code points, the C1 remapping, surrogates, non-characters, the limits.
    numbers = [*range(0, 0x100), *range(0x2000, 0x2070), 0x2019, 0x20AC, 0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF,
               0xE000, 0xFDD0, 0xFDEF, 0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x1FFFE, 0x1F600, 0x10FFFF, 0x110000,
               10 ** 20]
    for n in numbers:
        c.add("html-numeric", f"x&#{n};y")
        c.add("html-numeric", f"x&#x{n:x};y")
        c.add("html-numeric", f"x&#X{n:X}y")
        if n < 0x200:
            c.add("html-numeric", f"x&#{n}y")
    for text in ["&amp;amp;", "&amp;lt;b&amp;gt;", "&ampxyz;", "&notin;", "&notit;", "&#;", "&#x;", "& amp;",
                 "a&&b", "&unknown;", "&AMP;", "&EACUTE;", "&eACUTE;", "P&EACUTE;REZ", "BUNDESSTRA&SZLIG;E",
                 "&ntilde; &Ntilde; &NTILDE; &nTILDE;", "&Jscr;ohn &HilbertSpace;ancock",
                 "&abcdefghijklmnopqrstuvwxyz;", "&#0000000000000000000000065;", "&#00000000000000000000000065;",
                 "x &lt; y\nz &gt; w", "<b>&amp;</b>", "a &amp; b\n<i>&amp;</i>\n&amp;", "&lt;b&gt; &rsquo;",
                 "line&NewLine;break", "&Tab;tab", "&nbsp;&nbsp;x&nbsp;", "&ensp;&emsp;&thinsp;"]:
        c.add("html-rule", text)


def control_cases(c: Cases) -> None:
    # chardata.CONTROL_CHARS and the neighbours ftfy keeps (C1, joiners, bidi, musical, tags).
    cps = [*range(0x00, 0xA0), *range(0x2000, 0x2070), 0xFEFF, *range(0xFFF0, 0x10000), *range(0x1D173, 0x1D17B),
           *range(0xE0000, 0xE0080, 7), 0xE007F, 0x00AD, 0x061C, 0x180E]
    for cp in cps:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c.add_in_context("control", chr(cp))
    c.add("control", "\ufeffParty like\nit&rsquo;s 1999!")
    c.add("control", "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f")


def terminal_escape_cases(c: Cases) -> None:
    for text in ["\x1b[36;44mI'm blue, da ba dee\x1b[0m", "\x1b[m", "\x1b[1;2", "\x1b[1;2;m", "\x1b[12Ax", "\x1b]0;t\x07",
                 "\x1b(B", "a\x1b[;;;Hb", "\x1b\x1b[0mX", "\x1b[0\u00e9", "\x1b[\x1b[0mm"]:
        c.add("terminal-escape", text)


def surrogate_cases(c: Cases) -> None:
    for text in ["\ud83d\udca9", "\udca9\ud83d", "\ud83d", "\udca9", "a\ud800b", "\ud800\ud800\udc00", "\udbff\udfff",
                 "x\udfffy\ud800"]:
        c.add("surrogate", text)


def nfc_cases(c: Cases) -> None:
    # Every code point with a canonical decomposition, written decomposed; Hangul syllables sampled.
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        d = unicodedata.decomposition(ch)
        if not d or d.startswith("<"):
            continue
        c.add("nfc", unicodedata.normalize("NFD", ch))
    for cp in range(0xAC00, 0xD7A4, 37):
        c.add("nfc", unicodedata.normalize("NFD", chr(cp)))
    for text in ["e\u0301\u0323", "e\u0323\u0301", "a\u0308\u0301", "\u0301a", "\u1100\u1161\u11a8", "\u1100\u1161",
                 "\uac00\u11a8", "\u0f73", "\u0344", "\u2126", "\u212b", "\u00c5\u0301", "A\u030a\u0301", "\u0958"]:
        c.add("nfc", text)


SAMPLE_TEXTS = [
    "caf\u00e9", "cr\u00e8me br\u00fbl\u00e9e", "na\u00efve", "sch\u00f6n", "Stra\u00dfe", "\u00c5ngstr\u00f6m", "HOT\u00c9L",
    "ma\u00f1ana", "a\u00e7\u00e3o", "\u00e0 la mode", "voil\u00e0 le travail", "o\u00f9 et quand", "\u00ab\u00a0guillemets\u00a0\u00bb",
    "don\u2019t", "\u201cquoted\u201d", "\u2018single\u2019", "en\u2013dash", "em\u2014dash", "ellipsis\u2026",
    "\u2022 bullet", "\u20ac 5", "\u00a3 5", "5\u00b0C", "\u00bd cup", "x\u00b2", "\u00a9 2024", "trade\u2122",
    "\u2713 done", "\u2764 love", "\u2603", "\u00bf\u00a1", "\u00a7 2", "\u00b6", "\u00d7\u00f7",
    "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439\u0442\u0435", "\u041a\u0418\u0415\u0412",
    "\u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1", "\u0391\u0398\u0397\u039d\u0391",
    "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u6771\u4eac", "\u3053\u3093\u306b\u3061\u306f", "\u30c4",
    "\ud55c\uad6d\uc5b4", "\u4f60\u597d\u4e16\u754c", "\U0001f600 smile", "\U0001f308 rainbow", "\U0001f44d\U0001f3fd",
    "\u00af\\_(\u30c4)_/\u00af", "(\u256f\u00b0\u25a1\u00b0)\u256f\ufe35 \u253b\u2501\u253b", "\u0ca0_\u0ca0",
    "\u00fcnicode", "\u0141\u00f3d\u017a", "\u017elu\u0165ou\u010dk\u00fd k\u016f\u0148", "\u0160koda",
    "T\u00fcrk\u00e7e \u011f\u0131\u015f", "\u0101\u0113\u012b\u016b \u0137\u013c\u0146", "\u0130stanbul", "r\u00e9sum\u00e9",
    "a photo of a caf\u00e9 in Z\u00fcrich", "\u00c3", "\u00e2", "\u00f0\u0178",
]

MOJIBAKE_ENCODINGS = ["latin-1", "sloppy-windows-1252", "sloppy-windows-1251", "sloppy-windows-1250",
                      "sloppy-windows-1253", "sloppy-windows-1254", "sloppy-windows-1257", "iso-8859-2",
                      "macroman", "cp437"]


def mojibake_cases(c: Cases) -> None:
    for text in SAMPLE_TEXTS:
        raw = text.encode("utf-8")
        for enc in MOJIBAKE_ENCODINGS:
            try:
                bad = raw.decode(enc)
            except UnicodeDecodeError:
                continue
            c.add("mojibake-" + enc.replace("sloppy-", ""), bad)
            c.add("mojibake-" + enc.replace("sloppy-", ""), "The word " + bad + " here")
        w1252 = raw.decode("sloppy-windows-1252")
        c.add("mojibake-double", w1252.encode("utf-8").decode("sloppy-windows-1252"))
        c.add("mojibake-nbsp", w1252.replace("\xa0", " "))                  # restore_byte_a0
        c.add("mojibake-lossy", raw.decode("windows-1252", errors="replace"))  # replace_lossy_sequences
        c.add("mojibake-mixed", text + " / " + w1252)                       # decode_inconsistent_utf8
        try:
            c.add("mojibake-c1", text.encode("windows-1252").decode("latin-1"))  # fix_c1_controls
        except UnicodeEncodeError:
            pass
    for text in ["\u00e2\u0080\u009cmismatched quotes\u0085\u0094", "\u00e2\u20ac\u0153lossy decoding\u00e2\u20ac\ufffd",
                 "I'm not such a fan of Charlotte Bront\u00eb\u2026\u201d", "AH\u00c5\u2122, the new sofa from IKEA",
                 "\u0412\u0406\u041a\u0406 is Ukrainian for WIKI", "a radius of 10 \u00c5\u2014", "!YO S\u00c9\u00a1",
                 "There are a lot of \u00c3\u2019s in mojibake text", "H\u00c5\u00d8YA ER BL\u00c5\u00d8YD", "\u014c\u00aco",
                 "\u041f\u043e\u0437\u0434\u0440\u0430\u0432\u0402\u0430\u0432\u043e", "O\u00c3\u2122 ET QUAND?",
                 "These control characters \x1a are apparently intentional \x81", "voil\u00c3 le travail",
                 "\u00c3 la mode", "\u00c3 s vezes", "f\u00c3 cil", "\u00c3\u00a0", "\u00c2\u00a0", "\u00c3\u0192\u00c2\u00a9",
                 "\u00c3\u00a9\u00c3", "\u00f0\u0178\u02dc\u20ac", "\u00ed\u00a0\u00bd\u00ed\u00b8\u20ac",
                 "\u00c0\u20ac", "\u00e2\u0153\u201d No problems", "&macr;\\_(\u00e3\x83\x84)_/&macr;",
                 "NICIODAT\u0102\u00a0", "NICIODAT\u0102\u2122", "TRANSFORMATORI\u0172\u2122",
                 "\u00c3\u00a5klagarmyndighets"]:  # left alone by 6.3.1; ftfy's later heuristic fixes it
        c.add("mojibake-rule", text)


def lower_context_cases(c: Cases) -> None:
    # str.lower's context rule (final sigma) and the whitespace classes of strip() and regex \s.
    for text in ["\u03a3\u0391\u03a3 \u03a3\u0391\u03a3.", "\u03a3", "\u0391\u03a3'\u03a3", "\u0391\u03a3\u0301",
                 "\u0391\u0301\u03a3", "\u0391\u03a3\u0391", "A\u03a3", "\u24b6\u03a3", "\u02b0\u03a3", "\u0345\u03a3",
                 "A\u00ad\u03a3", "A\u03a3\u00adB", "1\u03a3", "\u01c5\u03a3", "\u0130", "\u01c5\u01c8\u01cb\u01f2",
                 "\u1f88\u1fbc", "\U00010400\U00010401", "\u2160\u24b6", "\u1e9e"]:
        c.add("lower-context", text)
    for cp in range(0x10000):
        ch = chr(cp)
        if ch.isspace() or regex.match(r"\s", ch) or unicodedata.category(ch) in ("Zs", "Zl", "Zp"):
            c.add("whitespace", "a" + ch + "b")
            c.add("whitespace", ch + "a" + ch + ch + "b" + ch)


# ------------------------------------------------------------------ str.lower over the whole range
def lower_table() -> list[tuple[int, str]]:
    rows = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        lo = ch.lower()
        if lo != ch:
            rows.append((cp, lo))
    return rows


def final_sigma_classes() -> tuple[list[int], list[int]]:
    """Code points Python's final-sigma rule skips (case-ignorable) and those it counts as cased.

    Read from str.lower itself: 'A' + c + 'Σ' ends in 'ς' when c is skipped or cased; c + 'Σ'
    when c is cased and not skipped. A skipped character's casing never matters.
    """
    ignorable, cased = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if (ch + "\u03a3").lower().endswith("\u03c2"):
            cased.append(cp)
        elif ("A" + ch + "\u03a3").lower().endswith("\u03c2"):
            ignorable.append(cp)
    return ignorable, cased


def ranges(cps: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


# ------------------------------------------------------------------ CLIP's BPE, for token ids
@lru_cache
def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(x) for x in cs]))


class ClipBpe:
    """openai/CLIP SimpleTokenizer.encode, reimplemented for generating ids."""

    PATTERN = regex.compile(
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
        regex.IGNORECASE)

    def __init__(self, path: str) -> None:
        merges = gzip.open(path).read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in merges[1:49152 - 256 - 2 + 1]]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}

    def bpe(self, token: str) -> str:
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            first, second = best
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text: str) -> list[int]:
        ids = []
        byte_encoder = bytes_to_unicode()
        for token in self.PATTERN.findall(clip_clean(text)):
            token = "".join(byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids


def tokenize_case(bpe: ClipBpe, category: str, text: str) -> dict:
    body = bpe.encode(text)
    count = len(body) + 2
    ids = [49406] + body + [49407]
    if len(ids) > 77:
        ids = ids[:77]
        ids[-1] = 49407
    tokens = ids + [0] * (77 - len(ids))
    return {"category": category, "text": text, "tokens": tokens, "token_count_untruncated": count,
            "raises_without_truncate": count > 77, "bpe_ids_untruncated": body, "debug_cleaned_text": clip_clean(text)}


def check_bpe_against_fixture(bpe: ClipBpe) -> None:
    """The reimplementation must reproduce the existing clip.tokenize fixture exactly."""
    with open(os.path.join(ROOT, "FuseDream.Tests", "Fixtures", "tokenizer", "cases.json"), encoding="utf-8") as f:
        reference = json.load(f)
    for case in reference["cases"]:
        if bpe.encode(case["text"]) != case["bpe_ids_untruncated"]:
            sys.exit(f"BPE reimplementation differs from clip.tokenize on {case['text']!r}")


# ------------------------------------------------------------------ fix_encoding's data for Core
def class_text(chars: str) -> str:
    """A regex character-class body with every member escaped; '-' stays a range operator."""
    return "".join("-" if ch == "-" else f"\\u{ord(ch):04X}" for ch in chars)


def write_mojibake_data(header: str) -> None:
    from ftfy import badness, chardata  # noqa: PLC0415
    with open(CORE_MOJIBAKE, "w", encoding="ascii", newline="\n") as f:
        f.write(header.replace("# ", "# ftfy's fix_encoding data: ", 1))
        f.write("# charmap: encoding, then what bytes 1A and 80..FF decode to (hex; '-' where the codec has none)\n")
        f.write("# class: a character class of badness.MOJIBAKE_CATEGORIES or chardata.UTF8_CLUES, as a regex class body\n")
        for encoding in [*chardata.CHARMAP_ENCODINGS, "windows-1252"]:
            cells = []
            for b in [0x1A, *range(0x80, 0x100)]:
                try:
                    cells.append(f"{ord(bytes([b]).decode(encoding)):X}")
                except UnicodeDecodeError:
                    cells.append("-")
            f.write(f"charmap\t{encoding}\t{' '.join(cells)}\n")
        for name, chars in [*badness.MOJIBAKE_CATEGORIES.items(), *chardata.UTF8_CLUES.items()]:
            f.write(f"class\t{name}\t{class_text(chars)}\n")


# ------------------------------------------------------------------ main
def main() -> None:
    os.makedirs(TEXT_FIXTURES, exist_ok=True)
    os.makedirs(TOKENIZER_SET, exist_ok=True)
    header = (f"# ftfy {ftfy.__version__}, Python {sys.version.split()[0]}, Unicode {unicodedata.unidata_version}, "
              f"regex {regex.__version__}; generated by scripts/generate-text-cases.py\n")

    cases = Cases()
    for make in [ligature_cases, width_cases, quote_cases, line_break_cases, html_cases, control_cases,
                 terminal_escape_cases, surrogate_cases, nfc_cases, mojibake_cases, lower_context_cases]:
        make(cases)
    with open(os.path.join(TEXT_FIXTURES, "ftfy-cases.tsv"), "w", encoding="ascii", newline="\n") as f:
        f.write(header)
        f.write("# group\tinput\tftfy.fix_text(input)\tCLIP's cleaned text (fix_text, unescape x2, strip, \\s+ -> ' ', strip, lower)\n")
        for group, text in cases.rows:
            f.write(f"{group}\t{escape(text)}\t{escape(ftfy.fix_text(text))}\t{escape(clip_clean(text))}\n")

    lower = lower_table()
    with open(os.path.join(TEXT_FIXTURES, "python-lower.tsv"), "w", encoding="ascii", newline="\n") as f:
        f.write(header)
        f.write("# code point (hex)\tstr.lower() of it; every other code point lower-cases to itself\n")
        for cp, lo in lower:
            f.write(f"{cp:X}\t{escape(lo)}\n")

    ignorable, cased = final_sigma_classes()
    with open(os.path.join(TEXT_FIXTURES, "python-case.tsv"), "w", encoding="ascii", newline="\n") as f:
        f.write(header)
        f.write("# i: case-ignorable ranges, c: cased (and not case-ignorable) ranges, as str.lower's final sigma reads them\n")
        for kind, cps in (("i", ignorable), ("c", cased)):
            for lo, hi in ranges(cps):
                f.write(f"{kind}\t{lo:X}\t{hi:X}\n")

    # Core's table: the same data, compact (runs of code points with the same offset).
    with open(CORE_TABLE, "w", encoding="ascii", newline="\n") as f:
        f.write(header.replace("# ", "# Python's str.lower: ", 1))
        f.write("# s: first, last, step, offset: each code point of the run lower-cases to itself + offset (hex)\n")
        f.write("# m: code point, its multi-character lower-case form; i/c: final-sigma classes (case-ignorable, cased)\n")
        singles = [(cp, lo) for cp, lo in lower if len(lo) == 1]
        runs: list[list[int]] = []
        for cp, lo in singles:
            offset = ord(lo) - cp
            if runs and runs[-1][3] == offset and (runs[-1][2] == 0 and cp - runs[-1][1] in (1, 2)
                                                   or runs[-1][2] and cp - runs[-1][1] == runs[-1][2]):
                if runs[-1][2] == 0:
                    runs[-1][2] = cp - runs[-1][1]
                runs[-1][1] = cp
            else:
                runs.append([cp, cp, 0, offset])
        for first, last, step, offset in runs:
            f.write(f"s\t{first:X}\t{last:X}\t{max(step, 1):X}\t{offset:+X}\n".replace("+-", "-"))
        for cp, lo in lower:
            if len(lo) != 1:
                f.write(f"m\t{cp:X}\t{' '.join(f'{ord(x):X}' for x in lo)}\n")
        for kind, cps in (("i", ignorable), ("c", cased)):
            for lo, hi in ranges(cps):
                f.write(f"{kind}\t{lo:X}\t{hi:X}\n")

    write_mojibake_data(header)

    bpe = ClipBpe(VOCAB)
    check_bpe_against_fixture(bpe)
    token_cases = []
    for i, (group, text) in enumerate(cases.rows):
        # A sample of every group: its first cases and every 40th after them.
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            continue  # clip.tokenize cannot encode a lone surrogate to UTF-8
        if i % 40 == 0 or sum(1 for t in token_cases if t["category"] == group) < 3:
            token_cases.append(tokenize_case(bpe, group, text))
    descriptor = {
        "fixture": "tokenizer",
        "variant": "ftfy-derived",
        "reference": "clip.tokenize(texts=[text], context_length=77, truncate=True) for a sample of "
                     "Fixtures/text/ftfy-cases.tsv (scripts/generate-text-cases.py; SimpleTokenizer.encode "
                     "reimplemented there and checked against ../cases.json)",
        "vocab_file": "../bpe_simple_vocab_16e6.txt.gz",
        "ftfy_version": ftfy.__version__,
        "python_version": sys.version.split()[0],
        "unicode_version": unicodedata.unidata_version,
        "regex_module_version": regex.__version__,
        "context_length": 77,
        "sot_token": 49406,
        "eot_token": 49407,
        "pad_token": 0,
        "tolerance": "exact match of every id, of token_count_untruncated and of raises_without_truncate",
        "num_cases": len(token_cases),
        "cases": token_cases,
    }
    with open(os.path.join(TOKENIZER_SET, "cases.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(descriptor, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases.rows)} cleaning cases, {len(lower)} lower-case mappings, "
          f"{len(token_cases)} tokenizer cases")


if __name__ == "__main__":
    main()
