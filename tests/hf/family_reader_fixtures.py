"""Whole-reader references for each checkpoint family: a model directory with its tokenizer, a question and a
document, and the answer Hugging Face gives (its tokenizer, its model's logits, the best span).

make(out_dir) writes reader_<family>/ (save_pretrained() of a random *ForQuestionAnswering, the family's
tokenizer: tokenizer.json trained here with `tokenizers`, or vocab.txt for BigBird as KoBigBird ships it) and
reader_cases.json: for each family the question, the document, HF's input ids and its best span — the span of
document tokens (start <= end, at most 30 tokens) with the highest start + end logit — as text, character
offsets and score. The document fits one window of each model, so no striding is involved.
"""
import json
import os
import random

import torch
from transformers import (BertTokenizerFast, BigBirdConfig, BigBirdForQuestionAnswering, LongformerConfig,
                          LongformerForQuestionAnswering, ModernBertConfig, ModernBertForQuestionAnswering,
                          PreTrainedTokenizerFast, RobertaConfig, RobertaForQuestionAnswering, XLMRobertaConfig,
                          XLMRobertaForQuestionAnswering)
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

import make_tokenizer_json_fixtures as tj

QUESTION = "세종대왕은 언제 훈민정음을 창제했나?"
MAX_ANSWER_TOKENS = 30


def document(seed, words):
    rng = random.Random(seed)
    pool = (tj.KO + " " + tj.EN).split()
    return " ".join(rng.choice(pool) for _ in range(words)) + " 😀 Café naïve."


def bert_wordpiece(directory):
    """BertTokenizer's pipeline (BertNormalizer, BertPreTokenizer, WordPiece), saved as vocab.txt."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(tj.corpus(), trainer)
    vocab = sorted(tok.get_vocab().items(), key=lambda item: item[1])
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token, _ in vocab))
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "strip_accents": False, "tokenizer_class": "BertTokenizer"}, f)
    return BertTokenizerFast.from_pretrained(directory)  # what a KoBigBird user loads


def from_tokenizer_json(build, directory):
    tok = build()
    path = os.path.join(directory, "tokenizer.json")
    tok.save(path)
    return PreTrainedTokenizerFast(tokenizer_file=path)


def best_span(start, end, sequence_ids):
    best, best_score = None, -float("inf")
    n = len(sequence_ids)
    for i in range(n):
        if sequence_ids[i] != 1:
            continue
        for j in range(i, min(n, i + MAX_ANSWER_TOKENS)):
            if sequence_ids[j] != 1:
                break
            score = float(start[i] + end[j])
            if score > best_score:
                best, best_score = (i, j), score
    return best, best_score


def make(out_dir):
    torch.manual_seed(97)
    small = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    roberta_ids = dict(pad_token_id=1, bos_token_id=0, eos_token_id=2)
    families = [
        ("roberta", lambda d: from_tokenizer_json(tj.byte_level_bpe, d),
         lambda v: RobertaForQuestionAnswering(RobertaConfig(vocab_size=v, **small, max_position_embeddings=514,
                                                             type_vocab_size=1, layer_norm_eps=1e-5, **roberta_ids))),
        ("xlm-roberta", lambda d: from_tokenizer_json(tj.unigram_metaspace, d),
         lambda v: XLMRobertaForQuestionAnswering(XLMRobertaConfig(vocab_size=v, **small, max_position_embeddings=514,
                                                                   type_vocab_size=1, **roberta_ids))),
        ("longformer", lambda d: from_tokenizer_json(tj.byte_level_bpe, d),
         lambda v: LongformerForQuestionAnswering(LongformerConfig(vocab_size=v, **small, max_position_embeddings=1026,
                                                                   type_vocab_size=1, sep_token_id=2,
                                                                   attention_window=32, **roberta_ids))),
        ("big_bird", bert_wordpiece,
         lambda v: BigBirdForQuestionAnswering(BigBirdConfig(vocab_size=v, **small, max_position_embeddings=1024,
                                                             block_size=16, num_random_blocks=2, pad_token_id=0,
                                                             sep_token_id=3, attention_type="block_sparse"))),
        ("modernbert", lambda d: from_tokenizer_json(tj.sentencepiece_bpe, d),  # mmBERT-style: BPE, byte fallback
         lambda v: ModernBertForQuestionAnswering(ModernBertConfig(
             vocab_size=v, hidden_size=64, num_hidden_layers=3, num_attention_heads=2, intermediate_size=96,
             max_position_embeddings=1024, local_attention=32, pad_token_id=3, bos_token_id=1, eos_token_id=2,
             cls_token_id=1, sep_token_id=2))),
    ]
    cases = []
    for seed, (family, make_tokenizer, make_model) in enumerate(families):
        directory = os.path.join(out_dir, "reader_" + family)
        os.makedirs(directory, exist_ok=True)
        tokenizer = make_tokenizer(directory)
        model = make_model(len(tokenizer)).eval()
        model.save_pretrained(directory, safe_serialization=True)
        for words in range(200, 0, -10):  # the longest document that fits one window of 500 tokens
            context = document(seed, words)
            enc = tokenizer(QUESTION, context, return_offsets_mapping=True)
            n = len(enc["input_ids"])
            if n <= 500:
                break
        assert 150 < n <= 500, (family, n)  # BigBird's block-sparse path (> 144 tokens), one window everywhere
        inputs = {"input_ids": torch.tensor([enc["input_ids"]]),
                  "attention_mask": torch.ones(1, n, dtype=torch.long)}
        if family == "big_bird":
            inputs["token_type_ids"] = torch.tensor([enc["token_type_ids"]])
        with torch.no_grad():
            out = model(**inputs)
        sequence_ids = [s if s is not None else -1 for s in enc.sequence_ids()]
        (i, j), score = best_span(out.start_logits[0], out.end_logits[0], sequence_ids)
        begin, end = enc["offset_mapping"][i][0], enc["offset_mapping"][j][1]
        cases.append({"family": family, "model_dir": directory, "question": QUESTION, "document": context,
                      "input_ids": enc["input_ids"], "answer": context[begin:end], "begin_char": begin,
                      "end_char": end, "score": score})
    with open(os.path.join(out_dir, "reader_cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False)
