"""ctest entry point for the Hugging Face reference fixtures: python make_fixtures.py OUT_DIR.

Each sibling module below that exists has a make(out_dir) writing its own files there;
make_family_fixtures (below) adds the RoBERTa, XLM-RoBERTa and BigBird QA checkpoints.
"""
import importlib
import os
import sys

MODULES = ["tokenizer_fixtures", "model_fixtures", "safetensors_fixtures", "encoder_fixtures", "family_reader_fixtures"]


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    for name in MODULES:
        if os.path.exists(os.path.join(here, name + ".py")):
            print("making", name, flush=True)
            importlib.import_module(name).make(out_dir)
    print("making family fixtures (roberta, xlm-roberta, big_bird, longformer, modernbert)", flush=True)
    make_family_fixtures(out_dir)
    make_long_family_fixtures(out_dir)


# --- RoBERTa, XLM-RoBERTa and BigBird (issue 14's encoder families) ---------------------------------------------
# Each model directory is save_pretrained() of a randomly initialised *ForQuestionAnswering; each reference file
# <name>_reference[_<case>].safetensors holds input_ids, token_type_ids, attention_mask and HF's start/end logits
# (fp32). Inputs look like "<cls> question <sep> context <sep>" with ragged padding at the end.

FAMILY_VOCAB = 1000


def _qa_inputs(gen, lengths, n, pad_id, cls_id, sep_id, with_types):
    """A padded batch of (n,) sequences of the given lengths: cls, a question, sep, a context, sep."""
    import torch
    batch = len(lengths)
    ids = torch.randint(5, FAMILY_VOCAB, (batch, n), generator=gen)
    ids[ids == sep_id] = sep_id + 1
    ids[ids == pad_id] = pad_id + 1
    types = torch.zeros(batch, n, dtype=torch.long)
    mask = torch.zeros(batch, n, dtype=torch.long)
    for b, length in enumerate(lengths):
        question = 7 + 5 * b
        ids[b, 0] = cls_id
        ids[b, question + 1] = sep_id
        ids[b, length - 1] = sep_id
        ids[b, length:] = pad_id
        mask[b, :length] = 1
        if with_types:
            types[b, question + 2:length] = 1
    return ids, types, mask


def _family_reference(model, path, ids, types, mask):
    import inspect
    import torch
    from safetensors.torch import save_file
    typed = "token_type_ids" in inspect.signature(model.forward).parameters  # ModernBERT has none
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, **({"token_type_ids": types} if typed else {}))
    save_file({"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
               "start_logits": out.start_logits.float().contiguous(),
               "end_logits": out.end_logits.float().contiguous()}, path)


def make_family_fixtures(out_dir):
    import torch
    from transformers import (BigBirdConfig, BigBirdForQuestionAnswering, RobertaConfig,
                              RobertaForQuestionAnswering, XLMRobertaConfig, XLMRobertaForQuestionAnswering)
    torch.manual_seed(4321)
    gen = torch.Generator().manual_seed(77)
    small = dict(vocab_size=FAMILY_VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128)
    # RoBERTa and XLM-R: pad 1, <s> 0, </s> 2, positions from padding_idx + 1, one token type.
    for name, config_class, model_class in [("roberta_qa", RobertaConfig, RobertaForQuestionAnswering),
                                            ("xlm_roberta_qa", XLMRobertaConfig, XLMRobertaForQuestionAnswering)]:
        config = config_class(**small, max_position_embeddings=130, type_vocab_size=1, pad_token_id=1,
                              bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)
        model = model_class(config).eval()
        path = os.path.join(out_dir, name)
        model.save_pretrained(path, safe_serialization=True)
        ids, types, mask = _qa_inputs(gen, [128, 101, 20], 128, pad_id=1, cls_id=0, sep_id=2, with_types=False)
        _family_reference(model, os.path.join(out_dir, name + "_reference.safetensors"), ids, types, mask)

    # BigBird, block-sparse: block 16, 3 random blocks; (5 + 2*3) * 16 = 176 tokens or fewer fall back to full attention.
    # HF's fallback persists on the model (set_attention_type), so every case runs on a freshly loaded copy.
    config = BigBirdConfig(**small, max_position_embeddings=4096, type_vocab_size=2, block_size=16,
                           num_random_blocks=3, attention_type="block_sparse", hidden_act="gelu_new")
    path = os.path.join(out_dir, "big_bird_qa")
    BigBirdForQuestionAnswering(config).eval().save_pretrained(path, safe_serialization=True)
    sep = config.sep_token_id
    cases = {"ragged": ([1500, 1093], 1500),   # not a multiple of the block: HF pads to 1504
             "paper": ([4096, 3000], 4096),    # one of HF's "paper plan" lengths (1024, 3072, 4096)
             "odd": ([2049], 2049),
             "short": ([160, 90], 160)}        # <= 176: HF's original_full fallback
    for case, (lengths, n) in cases.items():
        model = BigBirdForQuestionAnswering.from_pretrained(path).eval()
        ids, types, mask = _qa_inputs(gen, lengths, n, pad_id=config.pad_token_id, cls_id=65, sep_id=sep,
                                      with_types=True)
        _family_reference(model, os.path.join(out_dir, f"big_bird_qa_reference_{case}.safetensors"), ids, types, mask)
    # BigBird with attention_type original_full.
    full = BigBirdConfig(**small, max_position_embeddings=1024, type_vocab_size=2, block_size=16,
                         num_random_blocks=2, attention_type="original_full")
    path = os.path.join(out_dir, "big_bird_full_qa")
    model = BigBirdForQuestionAnswering(full).eval()
    model.save_pretrained(path, safe_serialization=True)
    ids, types, mask = _qa_inputs(gen, [600, 333], 600, pad_id=full.pad_token_id, cls_id=65, sep_id=full.sep_token_id,
                                  with_types=True)
    _family_reference(model, os.path.join(out_dir, "big_bird_full_qa_reference.safetensors"), ids, types, mask)


def _three_sep_inputs(gen, lengths, n, pad_id, cls_id, sep_id):
    """<s> question </s></s> context </s> (RoBERTa's pair template, which Longformer's QA head needs), padded."""
    ids, types, mask = _qa_inputs(gen, lengths, n, pad_id, cls_id, sep_id, with_types=False)
    for b in range(len(lengths)):
        ids[b, 7 + 5 * b + 2] = sep_id
    return ids, types, mask


def make_long_family_fixtures(out_dir):
    """Longformer (per-layer windows, global attention on the question) and ModernBERT (local and global layers,
    with and without biases), on documents of 1k-8k tokens."""
    import torch
    from transformers import (LongformerConfig, LongformerForQuestionAnswering, ModernBertConfig,
                              ModernBertForQuestionAnswering)
    torch.manual_seed(2468)
    gen = torch.Generator().manual_seed(13)
    small = dict(vocab_size=FAMILY_VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128)
    config = LongformerConfig(**small, max_position_embeddings=4098, type_vocab_size=1, pad_token_id=1,
                              bos_token_id=0, eos_token_id=2, sep_token_id=2, attention_window=[32, 64],
                              layer_norm_eps=1e-5)
    model = LongformerForQuestionAnswering(config).eval()
    path = os.path.join(out_dir, "longformer_qa")
    model.save_pretrained(path, safe_serialization=True)
    for case, (lengths, n) in {"long": ([4096, 2500], 4096), "odd": ([1037], 1037)}.items():
        ids, types, mask = _three_sep_inputs(gen, lengths, n, pad_id=1, cls_id=0, sep_id=2)
        _family_reference(model, os.path.join(out_dir, f"longformer_qa_reference_{case}.safetensors"), ids, types,
                          mask)

    # ModernBERT: layers 0 and 3 global, 1 and 2 local (window 32: |i-j| <= 16); RoPE bases of both kinds.
    base = dict(vocab_size=FAMILY_VOCAB, hidden_size=64, num_hidden_layers=4, num_attention_heads=2,
                intermediate_size=96, max_position_embeddings=8192, local_attention=32, pad_token_id=3,
                bos_token_id=0, eos_token_id=2, cls_token_id=0, sep_token_id=2, global_attn_every_n_layers=3,
                global_rope_theta=160000.0, local_rope_theta=10000.0)
    variants = {"modernbert_qa": dict(),
                "modernbert_bias_qa": dict(norm_bias=True, attention_bias=True, mlp_bias=True, classifier_bias=True,
                                           hidden_activation="gelu_pytorch_tanh", classifier_activation="relu")}
    for name, extra in variants.items():
        model = ModernBertForQuestionAnswering(ModernBertConfig(**base, **extra, attn_implementation="sdpa")).eval()
        with torch.no_grad():  # HF initialises LayerNorm biases at zero: make them matter
            for pname, p in model.named_parameters():
                if pname.endswith("bias"):
                    p.normal_(0.0, 0.05)
        path = os.path.join(out_dir, name)
        model.save_pretrained(path, safe_serialization=True)
        cases = {"long": ([8192], 8192), "ragged": ([3000, 1234], 3000)} if name == "modernbert_qa" else \
            {"ragged": ([1500, 700], 1500)}
        for case, (lengths, n) in cases.items():
            ids, types, mask = _qa_inputs(gen, lengths, n, pad_id=3, cls_id=0, sep_id=2, with_types=False)
            _family_reference(model, os.path.join(out_dir, f"{name}_reference_{case}.safetensors"), ids, types, mask)


if __name__ == "__main__":
    main(sys.argv[1])
