"""Reference tokenizations for tokenizer.json models other than WordPiece, made by Hugging Face
`tokenizers`: python make_tokenizer_json_fixtures.py OUT_DIR.

Trains small tokenizers with the library itself on a mixed Korean/English corpus (byte-level BPE
as RoBERTa/GPT-2/ModernBERT, SentencePiece-style BPE with byte fallback as Llama/Gemma, Unigram
with Metaspace as XLM-R), saves each one's tokenizer.json under OUT_DIR/tokenizer_json/NAME/, and
writes OUT_DIR/tokenizer_json/cases.json: for each tokenizer and hard-case text (and question +
context pair) HF's ids, tokens, type ids, the sequence of each token and its offsets converted
from HF's code-point offsets to UTF-8 byte offsets into its own text.
"""
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

KO = ("대한민국의 수도는 서울이다. 세종대왕은 1443년에 훈민정음을 창제하였다. 이순신은 조선 중기의 무신이다. "
      "한국어 질의응답 데이터셋입니다. 긴 문서를 읽고 질문에 답한다. 위키백과는 누구나 편집할 수 있는 백과사전이다.")
EN = ("The quick brown fox jumps over the lazy dog. Long documents are read in overlapping windows. "
      "Question answering finds the span of the context that answers the question. Tokenization matters.")


def corpus():
    rng = random.Random(14)
    words = (KO + " " + EN).split()
    lines = [KO, EN]
    for _ in range(400):
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 15))))
    return lines


TEXTS = [
    "",
    " ",
    "Hello, world!",
    "  leading and trailing spaces  ",
    "The quick brown fox jumps over the lazy dog.",
    "대한민국의 수도는 서울이다.",
    "KorQuAD는 한국어 질의응답 데이터셋입니다. 세종대왕은 1443년에 훈민정음을 창제하였다.",
    "Mixed 한국어 and English 文字 with 数字 123,456.78 and ½ ² ③",
    "Emoji: 😀 👍🏽 👨\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 ❤️ 🇰🇷 #️⃣",
    "中文文本测试：北京是中国的首都。日本語のテキスト、カタカナ ｶﾀｶﾅ",
    "NFD: \u1112\u1161\u11ab\u1100\u1173\u11af e\u0301 a\u0308 Cafe\u0301 가\u11a8",
    "Café naïve résumé Ångström ﬁ ﬂ Ⅻ ℃ ＡＢＣ １２３",
    "Controls:\x00a\x01b\x07c\x1bd\x7fe\x85f\u200bg\u200ch\u200di\u2060j\ufeffk\u00adl\ufffdm",
    "Whitespace:\ta\nb\r\nc\u00a0d\u3000e\u2028f   g\n\n h",
    "don't we'll I'm they've she'd it's 'quoted' \"double\"",
    "supercalifragilisticexpialidocious" * 4,
    "가나다라마바사아자차카타파하" * 5,
    "Numbers: 3.14159 1,000,000 -42 0x1F 2024-01-01 ٣٫١٤",
    "Special tokens in text: <s> hello </s> world <mask> <unk> <pad> a<mask>b [CLS]",
    "Turkish İstanbul ıi ß ΣΊΣΥΦΟΣ Москва",
    "Compat: ㈜ ㎏ ① ﬃ ｶﾞ ﾟ ＡＢＣ\u3000x e\u0301 a\u0308\u0301 \u1100\u1161\u11a8 \u1112\u1161\u11ab \x01\x02a\u200bb\ufeff",
    "Removed at the start: \x01\x02 and alone \x01",
    "state-of-the-art long-document re-ranking -- a-b- -c",
    "\U0001d400\U0001d44e \U00020000 \ue000 \U0010ffff tags\U000e0041",
]
PAIRS = [
    ("세종대왕은 언제 훈민정음을 창제했나?", "세종대왕은 1443년에 훈민정음을 창제하였다. The quick brown fox."),
    ("Who jumps?", "The quick brown fox jumps over the lazy dog. 😀 <mask>"),
]


def byte_offsets(text, offsets):
    cum = [0]
    for ch in text:
        cum.append(cum[-1] + len(ch.encode("utf-8")))
    return [[cum[b], cum[e]] for b, e in offsets]


def record(tok, text, pair=None, add_special_tokens=True):
    enc = tok.encode(text, pair, add_special_tokens=add_special_tokens)
    seqs = [s if s is not None else -1 for s in enc.sequence_ids]
    offsets = []
    for (b, e), s in zip(enc.offsets, seqs):
        source = pair if s == 1 else text
        offsets.append(byte_offsets(source, [(b, e)])[0] if s >= 0 else [b, e])
    return {"text": text, "pair": pair, "add_special_tokens": add_special_tokens, "ids": enc.ids,
            "tokens": enc.tokens, "type_ids": enc.type_ids, "sequence_ids": seqs, "offsets": offsets}


def byte_level_bpe():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    return tok


def byte_level_bpe_prefix():
    """GPT-2 style with add_prefix_space, a ByteLevel post-processor and a non-special added token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    specials = ["<|endoftext|>"]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    tok.add_tokens([tokenizers.AddedToken("서울", single_word=True), tokenizers.AddedToken("fox", rstrip=True)])
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    return tok


def with_byte_tokens(tok):
    """tokenizers' trainer does not add the <0xNN> tokens byte fallback needs: append them."""
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    n = max(vocab.values()) + 1
    added_ids = [t["id"] for t in data["added_tokens"]]
    n = max([n] + [i + 1 for i in added_ids])
    for b in range(256):
        name = "<0x%02X>" % b
        if name not in vocab:
            vocab[name] = n
            n += 1
    return Tokenizer.from_str(json.dumps(data))


def sentencepiece_bpe():
    """Llama/Gemma style: BPE with byte fallback and fuse_unk, ' ' replaced by '▁' (and prepended)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    specials = ["<unk>", "<bos>", "<eos>", "<pad>"]
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=specials, limit_alphabet=150)
    tok.train_from_iterator(corpus(), trainer)
    tok = with_byte_tokens(tok)
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", pair="<bos> $A <eos> $B:1 <eos>:1",
        special_tokens=[("<bos>", tok.token_to_id("<bos>")), ("<eos>", tok.token_to_id("<eos>"))])
    return tok


def unigram_metaspace():
    """XLM-R style: Unigram, NFKC, Metaspace (prepend_scheme always), <s> A </s></s> B </s>."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace("``", "\""),
                                           normalizers.Strip(left=False, right=True)])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=600, special_tokens=specials, unk_token="<unk>",
                                      shrinking_factor=0.75, max_piece_length=8)
    tok.train_from_iterator(corpus(), trainer)
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return tok


def unigram_regex():
    """XLM-R's normalizer tail (Replace of Regex " {2,}" by one space) and a Split on an ASCII Regex."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(tokenizers.Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex("[0-9]+|-{2,}|(ab|cd)?e"), behavior="isolated"),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    trainer = trainers.UnigramTrainer(vocab_size=500, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return tok


def unigram_byte_fallback():
    """Unigram with byte fallback, Metaspace prepend_scheme first and split off, lowercase + NFD."""
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace(prepend_scheme="first", split=False)])
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(corpus(), trainer)
    data = json.loads(tok.to_str())
    data["model"]["byte_fallback"] = True
    data["model"]["vocab"] += [["<0x%02X>" % b, -20.0] for b in range(256)]
    tok = Tokenizer.from_str(json.dumps(data))
    tok.post_processor = processors.BertProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    return tok


def wordpiece_whitespace():
    """WordPiece inside tokenizer.json with non-BERT components: NFKD + Lowercase, Whitespace."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordPieceTrainer(vocab_size=500, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def charsmap(mapping):
    """A SentencePiece precompiled_charsmap (as sentencepiece writes it and tokenizers'
    Precompiled reads it): u32 trie size in bytes, a darts-clone double-array trie over the
    UTF-8 keys whose leaf values are offsets into the blob of '\\0'-ended replacements."""
    keys = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in mapping.items())
    blob, root = bytearray(), {}
    for k, v in keys:
        node = root
        for b in k:
            node = node.setdefault(b, {})
        node[None] = len(blob)
        blob += v + b"\0"
    units, used = {0: 0}, {0}

    def place(node, pos):
        labels = sorted(b for b in node if b is not None)
        need = ([0] if None in node else []) + labels
        base = 1
        while any((base ^ c) in used for c in need) or (pos ^ base) >= (1 << 21):
            base += 1
        units[pos] |= ((pos ^ base) << 10) | ((1 << 8) if None in node else 0)
        if None in node:
            used.add(base)
            units[base] = (1 << 31) | node[None]
        for c in labels:
            used.add(base ^ c)
            units[base ^ c] = c
        for c in labels:
            place(node[c], base ^ c)

    place(root, 0)
    array = [units.get(i, 0) for i in range(max(units) + 1)]
    trie = b"".join(u.to_bytes(4, "little") for u in array)
    return len(trie).to_bytes(4, "little") + trie + bytes(blob)


def nfkc_like_mapping():
    """NFKC of the chars that change under it in a few blocks, some removals and
    multi-char keys (what sentencepiece's nmt_nfkc rules look like)."""
    import unicodedata
    ranges = [(0xA0, 0x180), (0x2000, 0x2190), (0x2460, 0x2500), (0x3000, 0x3100), (0x3130, 0x3190),
              (0xF900, 0xF930), (0xFB00, 0xFB07), (0xFF00, 0xFFF0), (0x1D400, 0x1D480)]
    mapping = {}
    for a, b in ranges:
        for cp in range(a, b):
            c = chr(cp)
            n = unicodedata.normalize("NFKC", c)
            if n != c:
                mapping[c] = n
    for cp in list(range(1, 9)) + [0x0B, 0x0E, 0x1F, 0x7F, 0x200B, 0x200E, 0xFEFF, 0xAD]:
        mapping[chr(cp)] = ""
    for c in "\t\n\r":
        mapping[c] = " "
    mapping.update({"e\u0301": "\u00e9", "a\u0308": "\u00e4", "\u1100\u1161": "\uac00",
                    "\uac00\u11a8": "\uac01", "\u1112\u1161\u11ab": "\ud55c"})
    return mapping


def unigram_precompiled():
    """XLM-R's layout: Precompiled charsmap normalizer, Metaspace, Unigram, <s> A </s></s> B </s>."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Precompiled(charsmap(nfkc_like_mapping()))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=500, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(corpus(), trainer)
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")))
    return tok


def wordpiece_bert_normalizer():
    """BertNormalizer outside the BERT-only fast path: with WhitespaceSplit and a Split on '-'."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=20))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Split("-", behavior="merged_with_previous")])
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


CONFIGS = {
    "byte_level_bpe": byte_level_bpe,
    "byte_level_bpe_prefix": byte_level_bpe_prefix,
    "sentencepiece_bpe": sentencepiece_bpe,
    "unigram_metaspace": unigram_metaspace,
    "unigram_regex": unigram_regex,
    "unigram_byte_fallback": unigram_byte_fallback,
    "wordpiece_whitespace": wordpiece_whitespace,
    "unigram_precompiled": unigram_precompiled,
    "wordpiece_bert_normalizer": wordpiece_bert_normalizer,
}


def legacy_vocab_merges(root):
    """vocab.json + merges.txt (+ tokenizer_config.json) as transformers' RobertaTokenizer reads
    them (convert_slow_tokenizer's RobertaConverter): the C++ side loads the directory."""
    from transformers import AutoTokenizer
    directory = os.path.join(root, "legacy_roberta")
    os.makedirs(directory, exist_ok=True)
    byte_level_bpe().model.save(directory)
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "RobertaTokenizer"}, f)
    tok = AutoTokenizer.from_pretrained(directory).backend_tokenizer
    tok.no_truncation()
    tok.no_padding()
    cases = []
    for text in TEXTS:
        cases.append(record(tok, text, add_special_tokens=False))
        cases.append(record(tok, text, add_special_tokens=True))
    for q, c in PAIRS:
        cases.append(record(tok, q, c, add_special_tokens=True))
    return {"name": "legacy_roberta", "path": directory, "loader": "directory", "cases": cases}


def make(out_dir):
    root = os.path.join(out_dir, "tokenizer_json")
    os.makedirs(root, exist_ok=True)
    configs = []
    for name, build in CONFIGS.items():
        tok = build()
        directory = os.path.join(root, name)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "tokenizer.json")
        tok.save(path)
        tok = Tokenizer.from_file(path)
        cases = []
        for text in TEXTS:
            cases.append(record(tok, text, add_special_tokens=False))
            cases.append(record(tok, text, add_special_tokens=True))
        for q, c in PAIRS:
            cases.append(record(tok, q, c, add_special_tokens=True))
        configs.append({"name": name, "path": path, "cases": cases})
    configs.append(legacy_vocab_merges(root))
    with open(os.path.join(root, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers_version": tokenizers.__version__, "configs": configs}, f, ensure_ascii=False)


if __name__ == "__main__":
    make(sys.argv[1])
