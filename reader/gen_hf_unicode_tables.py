#!/usr/bin/env python3
"""Writes hf_unicode_tables.inc: the character classes of Hugging Face tokenizers' BertNormalizer
and BertPreTokenizer that utf8proc cannot give, read off tokenizers itself by passing every code
point through it. Run with the Python whose `tokenizers` is the reference (the one
tests/hf/make_fixtures.py uses), on the machine whose utf8proc the build links:
    .venv/bin/python reader/gen_hf_unicode_tables.py > reader/hf_unicode_tables.inc

Why tables: tokenizers takes its categories (Cc/Cf/Co for clean_text, P* for punctuation, Mn for
strip_accents) from the unicode_categories crate and its NFD from unicode-normalization-alignments,
both frozen at an old Unicode version (about 8 and 9), so they differ from utf8proc's current
data on about 600 code points assigned or recategorized since. Its lowercase is Rust's
char::to_lowercase, newer than utf8proc 2.8's Unicode 15: only the mappings where utf8proc
differs are listed. What utf8proc does give, the generator checks here instead of listing:
Rust's White_Space (BertPreTokenizer's split) is utf8proc's Zs/Zl/Zp plus U+0009-U+000D and U+0085,
and HF's NFD of every BMP char (and of the listed supplementary chars) is utf8proc's
decomposition with marks reordered by the combining classes listed here.
"""
import ctypes
import ctypes.util
import sys
import unicodedata

import tokenizers
from tokenizers import normalizers, pre_tokenizers

CHARS = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]

utf8proc = ctypes.CDLL(ctypes.util.find_library("utf8proc"))
utf8proc.utf8proc_unicode_version.restype = ctypes.c_char_p
utf8proc.utf8proc_version.restype = ctypes.c_char_p
utf8proc.utf8proc_category.argtypes = [ctypes.c_int32]
utf8proc.utf8proc_tolower.argtypes = [ctypes.c_int32]
utf8proc.utf8proc_tolower.restype = ctypes.c_int32
utf8proc.utf8proc_get_property.argtypes = [ctypes.c_int32]
utf8proc.utf8proc_get_property.restype = ctypes.POINTER(ctypes.c_int16)  # category, combining_class, ...
utf8proc.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), ctypes.c_ssize_t,
                                             ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
utf8proc.utf8proc_decompose_char.restype = ctypes.c_ssize_t
UTF8PROC_DECOMPOSE = 1 << 4
CATEGORY_ZS, CATEGORY_ZL, CATEGORY_ZP = 23, 24, 25


def bert_normalizer(**settings):
    """BertNormalizer with every step off but those given."""
    base = {"clean_text": False, "handle_chinese_chars": False, "strip_accents": False, "lowercase": False}
    return normalizers.BertNormalizer(**{**base, **settings})


def ranges(cps):
    out = []
    for cp in sorted(cps):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def emit(comment, type_name, name, entries):
    print()
    for line in comment.strip().split("\n"):
        print("// " + line.strip())
    print("constexpr %s %s[] = {" % (type_name, name))
    line = " "
    for entry in entries:
        item = " {%s}," % ", ".join("0x%X" % v for v in entry)
        if len(line) + len(item) > 100:
            print(line)
            line = " "
        line += item
    print(line)
    print("};")


def utf8proc_nfd(cp, combining):
    """What reader/bert_normalizer.cpp computes: utf8proc's decomposition, marks of the classes
    HF knows put in canonical order."""
    buf = (ctypes.c_int32 * 8)()
    bound = ctypes.c_int(0)
    n = utf8proc.utf8proc_decompose_char(cp, buf, 8, UTF8PROC_DECOMPOSE, ctypes.byref(bound))
    parts = [buf[i] for i in range(n)]
    ccc = [utf8proc.utf8proc_get_property(p)[1] if p in combining else 0 for p in parts]
    out, i = [], 0
    while i < len(parts):
        j = i
        while j < len(parts) and ccc[j] != 0:
            j += 1
        run = sorted(range(i, j), key=lambda k: ccc[k])  # stable
        out += [parts[k] for k in run]
        if j < len(parts):
            out.append(parts[j])
        i = j + 1
    return "".join(map(chr, out))


def main():
    clean = bert_normalizer(clean_text=True)
    strip = bert_normalizer(strip_accents=True)
    lower = bert_normalizer(lowercase=True)
    nfd = normalizers.NFD()
    pre = pre_tokenizers.BertPreTokenizer()

    removed, punctuation, whitespace, nonspacing, combining, supplementary = [], [], [], [], [], []
    lowercase = {}  # cp -> HF's lowercase where utf8proc_tolower differs
    for cp in CHARS:
        ch = chr(cp)
        if clean.normalize_str(ch) == "":
            removed.append(cp)
        pieces = len(pre.pre_tokenize_str("a" + ch + "a"))
        if pieces == 2:
            whitespace.append(cp)
        elif pieces == 3:
            punctuation.append(cp)
        # Only asked of chars NFD leaves alone; for the others, all parts nonspacing.
        if strip.normalize_str(ch) == "":
            nonspacing.append(cp)
        decomposed = nfd.normalize_str(ch)
        if decomposed != ch:
            if cp >= 0x10000:
                supplementary.append(cp)
            known = unicodedata.combining(ch) != 0  # never asked: only decompositions' parts are
        else:  # a nonzero class shows as reordering against U+0334 (class 1) or U+0301 (230)
            known = (nfd.normalize_str("a" + ch + "\u0334") != "a" + ch + "\u0334" or
                     nfd.normalize_str("a\u0301" + ch) != "a\u0301" + ch)
        if known:
            combining.append(cp)
        low = lower.normalize_str(ch)
        if len(low) != 1:
            assert cp == 0x130 and low == "i\u0307", (hex(cp), low)  # the expansion the C++ writes out
        elif ord(low) != utf8proc.utf8proc_tolower(cp):
            lowercase[cp] = ord(low)

    # What the C++ takes from utf8proc instead of a table.
    expected_whitespace = {cp for cp in CHARS if utf8proc.utf8proc_category(cp) in (CATEGORY_ZS, CATEGORY_ZL, CATEGORY_ZP)}
    expected_whitespace |= {0x9, 0xA, 0xB, 0xC, 0xD, 0x85}
    assert set(whitespace) == expected_whitespace, sorted(set(whitespace) ^ expected_whitespace)
    known = set(combining)
    supplementary_set = set(supplementary)
    for cp in CHARS:
        if cp < 0x10000 or cp in supplementary_set:
            assert nfd.normalize_str(chr(cp)) == utf8proc_nfd(cp, known), hex(cp)

    cases = []  # runs of consecutive chars mapped by the same offset
    for cp in sorted(lowercase):
        to = lowercase[cp]
        if cases and cases[-1][1] == cp - 1 and cases[-1][2] + (cp - cases[-1][0]) == to:
            cases[-1][1] = cp
        else:
            cases.append([cp, cp, to])

    print("// Generated by reader/gen_hf_unicode_tables.py from Hugging Face tokenizers %s and utf8proc %s"
          % (tokenizers.__version__, utf8proc.utf8proc_version().decode()))
    print("// (Unicode %s); do not edit. Sorted ranges [first, last] of code points."
          % utf8proc.utf8proc_unicode_version().decode())
    emit("""clean_text removes these: U+0000, U+FFFD and "other" chars (Cc, Cf, Co as HF's
            tables have them) but \\t \\n \\r.""", "CodeRange", "kRemovedByClean", ranges(removed))
    emit("""BertPreTokenizer's punctuation: all ASCII symbols, and P* (as HF's tables have it).""",
         "CodeRange", "kPunctuation", ranges(punctuation))
    emit("""Nonspacing marks (Mn as HF's tables have it): what strip_accents removes after NFD.""",
         "CodeRange", "kNonspacingMarks", ranges(nonspacing))
    emit("""The chars whose nonzero canonical combining class HF's NFD knows (it treats newer marks
            such as U+1AC1 as class 0, and so does not reorder them); the classes come from utf8proc.""",
         "CodeRange", "kCombiningMarks", ranges(combining))
    emit("""The chars outside the BMP that HF's NFD decomposes (not those added since its Unicode
            version, e.g. U+11938); in the BMP it decomposes what utf8proc does.""",
         "CodeRange", "kSupplementaryDecompositions", ranges(supplementary))
    emit("""Where HF's lowercase (Rust's char::to_lowercase) differs from utf8proc_tolower, but the
            expansion U+0130 -> "i\\u0307": c in [first, last] maps to to + (c - first).""",
         "CaseRange", "kLowercaseOverrides", cases)
    print("removed %d, punctuation %d, nonspacing %d, combining %d, supplementary %d, lowercase %d"
          % (len(removed), len(punctuation), len(nonspacing), len(combining), len(supplementary), len(lowercase)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
