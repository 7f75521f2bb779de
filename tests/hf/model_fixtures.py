"""Reference QA models and logits made by Hugging Face transformers.

make(out_dir) writes, for BERT and ELECTRA (with an embedding projection):
  <name>/                        save_pretrained() of a randomly initialised *ForQuestionAnswering
  <name>_reference.safetensors   input_ids, token_type_ids, attention_mask, start_logits, end_logits
and a sharded copy of the BERT model (model.safetensors.index.json + shards).
"""
import os

import torch
from safetensors.torch import save_file
from transformers import (BertConfig, BertForQuestionAnswering, ElectraConfig,
                          ElectraForQuestionAnswering)

VOCAB = 1000


def _inputs(gen, batch=3, n=57):
    ids = torch.randint(5, VOCAB, (batch, n), generator=gen)
    types = torch.zeros(batch, n, dtype=torch.long)
    mask = torch.zeros(batch, n, dtype=torch.long)
    for b, length in enumerate([n, n - 13, 9][:batch]):  # ragged: padding at the end
        mask[b, :length] = 1
        types[b, length // 3:length] = 1
        ids[b, length:] = 0
    return ids, types, mask


def _save(model, out_dir, name, gen):
    model.eval()
    path = os.path.join(out_dir, name)
    model.save_pretrained(path, safe_serialization=True)
    ids, types, mask = _inputs(gen)
    with torch.no_grad():
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
    save_file({"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
               "start_logits": out.start_logits.contiguous(), "end_logits": out.end_logits.contiguous()},
              os.path.join(out_dir, name + "_reference.safetensors"))
    return path


def make(out_dir):
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    bert = BertForQuestionAnswering(BertConfig(
        vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=128, type_vocab_size=2, hidden_act="gelu"))
    _save(bert, out_dir, "bert_qa", gen)
    bert.save_pretrained(os.path.join(out_dir, "bert_qa_sharded"), safe_serialization=True,
                         max_shard_size="200KB")
    electra = ElectraForQuestionAnswering(ElectraConfig(
        vocab_size=VOCAB, embedding_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=128, hidden_act="gelu"))
    _save(electra, out_dir, "electra_qa", gen)
