"""Writes the seed inputs of each harness into fuzz/seeds/<harness>/ (committed; rerun after a
format changes). Each seed is a small valid input, and a few are near-misses, so the fuzzer
starts inside every parser rather than at its first check. Texts are our own."""
import json
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds")


def put(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def safetensors_bytes(tensors, metadata=None):
    header, blobs, offset = {}, b"", 0
    for name, (dtype, shape, raw) in sorted(tensors.items()):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs += raw
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blobs


def main():
    texts = ["Super Bowl 50 was won by the Denver Broncos, who beat the Carolina Panthers.",
             "가나다라 마바사. 日本語のテキスト 😀 naïve café (1,234) [SEP] [MASK]",
             "\u00a0\t tabs\r\nand\u200bzero-width\u0301 marks", "x" * 120]
    for i, t in enumerate(texts):
        put("wordpiece", f"text{i}", bytes([i]) + t.encode())
    put("wordpiece", "invalid_utf8", b"\x00ab\xff\xfe cd \xe3\x80")

    # tokenizer.json of each model type, made by Hugging Face's tokenizers on our own texts.
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers, decoders
    corpus = texts * 20
    def save(tok, name):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.json")
            tok.save(path)
            put("tokenizer_json", name, open(path, "rb").read())
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    wp.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                      special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    save(wp, "wordpiece.json")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    save(bpe, "bpe_byte_level.json")
    uni = Tokenizer(models.Unigram())
    uni.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" ", "▁")])
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.train_from_iterator(corpus, trainers.UnigramTrainer(vocab_size=100, special_tokens=["<pad>", "<unk>", "<s>", "</s>"], unk_token="<unk>"))
    save(uni, "unigram.json")

    put("model_files", "bert_config", b"\x00" + json.dumps({
        "model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
        "vocab_size": 100, "max_position_embeddings": 128, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}).encode())
    put("model_files", "littlebird_config", b"\x00" + json.dumps({
        "model_type": "littlebird", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
        "vocab_size": 100, "block_size": 64, "pack_size": 64, "hidden_act": "gelu"}).encode())
    put("model_files", "tokenizer_config", b"\x01" + json.dumps({
        "do_lower_case": False, "unk_token": "[UNK]", "cls_token": {"content": "[CLS]", "lstrip": False},
        "model_max_length": 512, "tokenize_chinese_chars": True, "strip_accents": None}).encode())
    put("model_files", "special_tokens_map", b"\x02" + json.dumps({"bos_token": "<s>", "eos_token": "</s>", "sep_token": "[SEP]"}).encode())

    put("safetensors", "two_tensors", b"\x00" + safetensors_bytes(
        {"a.weight": ("F32", [2, 3], struct.pack("<6f", *range(6))), "b.bias": ("BF16", [4], b"\x80\x3f" * 4),
         "c": ("I64", [], struct.pack("<q", 7))}, {"format": "pt"}))
    put("safetensors", "empty", b"\x00" + safetensors_bytes({}))
    put("safetensors", "index", b"\x01" + json.dumps({"metadata": {"total_size": 24}, "weight_map": {
        "a.weight": "model-00001-of-00002.safetensors", "b.bias": "sub/model-00002-of-00002.safetensors",
        "c": "../outside.safetensors", "d": "/etc/passwd"}}).encode())

    put("corpus", "jsonl", b"\x00" + "\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "a", "title": "Broncos", "text": texts[0], "metadata": {"year": 2016}},
        {"text": texts[1]}, {"id": 3, "text": ""}]).encode() + b"\nnot json\n")
    put("corpus", "txt", b"\x01" + ("Title line\n\n" + texts[0] + "\n" + texts[1]).encode())
    put("corpus", "md", b"\x02" + ("# A heading\n\nSome *text* and `code`.\n\n## Next\n" + texts[1]).encode())
    squad = {"version": "1.1", "data": [{"title": "Super_Bowl", "paragraphs": [{"context": texts[0], "qas": [
        {"id": "q1", "question": "Who won Super Bowl 50?", "answers": [{"text": "Denver Broncos", "answer_start": 29}]}]}]}]}
    put("corpus", "squad_paragraphs", b"\x03" + json.dumps(squad).encode())
    put("corpus", "squad_articles", b"\x83" + json.dumps(squad).encode())
    # KorQuAD 2.x (CC BY-ND) is not copied here: fuzz/run.py adds ../shared/data's KorQuAD 2.1
    # document as a seed at run time, when it is there.
    html = ("<!DOCTYPE html><html><head><title>A &amp; B</title><style>p{}</style><script>var x=1;</script></head>"
            "<body><h1>Heading</h1><p>One<br>two&nbsp;three &#x41;&#66; &unknown;</p><pre>  kept   spaces</pre>"
            "<table><tr><th>k</th><td>v</td></tr><tr><td></td><td>w</td></tr></table><ol><li>a<ul><li>b</li></ul></li></ol>"
            "<!-- comment --><template>t</template></body></html>")
    put("corpus", "html", b"\x04" + html.encode())

    put("qa_dataset", "squad", b"\x00" + json.dumps(squad).encode())
    put("qa_dataset", "corpus_mode", b"\x01" + json.dumps({"data": [{"paragraphs": [{"context": "  "}, {"context": texts[0]}]}, {"title": 5}]}).encode())
    put("qa_dataset", "predictions", b"\x02" + json.dumps({"q1": "Denver Broncos", "k1": "하나"}, ensure_ascii=False).encode())

    put("html", "page", html.encode())
    put("html", "table_list", "<table><tr><td>가</td><td>나</td></tr></table><ul><li>하나</li><li>둘</li></ul><p>문단 &amp; 끝</p>".encode())
    put("html", "broken", b"<p a='1' b=\"2\" c=3 d>x</p <b>unclosed <i>nested</b></i> &#xD800; &#99999999; <br/>")

    read = json.dumps({"question": "Who won?", "context": texts[0], "top_k_answers": 3})
    def request(method, target, body="", headers=()):
        lines = [f"{method} {target} HTTP/1.1", "Host: x"] + list(headers)
        if body:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()
    put("http_request", "read", request("POST", "/v1/read", read, ["Authorization: Bearer reader-key-0123456789abcdef"]))
    put("http_request", "read_contexts", request("POST", "/v1/read", json.dumps({"question": "q", "contexts": ["a", "b"]})))
    put("http_request", "ask", request("POST", "/v1/ask", json.dumps({"question": "q", "top_k_documents": 2})))
    put("http_request", "retrieve", request("POST", "/v1/retrieve", json.dumps({"question": "q", "top_k": 5})))
    put("http_request", "documents", request("POST", "/v1/documents", json.dumps(
        {"documents": [{"id": "d/1", "title": "t", "text": "x", "metadata": {"a": [1, {"b": None}]}}]}), ["Authorization: bearer x"]))
    put("http_request", "get_document", request("GET", "/v1/documents/d%2F1%EA%B0%80?x=1"))
    put("http_request", "delete_document", request("DELETE", "/v1/documents/%ZZ"))
    put("http_request", "health", request("GET", "/health"))
    put("http_request", "chunked", b"POST /v1/read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n{\"que\r\n1a\r\nstion\": \"q\", \"context\": \"c\"}\r\n0\r\n\r\n")
    put("http_request", "deep", request("POST", "/v1/read", "[" * 100 + "]" * 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
