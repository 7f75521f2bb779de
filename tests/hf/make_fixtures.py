"""ctest entry point for the Hugging Face reference fixtures: python make_fixtures.py OUT_DIR.

Each sibling module below that exists has a make(out_dir) writing its own files there;
make_family_fixtures (below) adds the RoBERTa, XLM-RoBERTa and BigBird QA checkpoints.
"""
import importlib
import os
import sys

MODULES = ["tokenizer_fixtures", "model_fixtures", "safetensors_fixtures", "encoder_fixtures"]


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    for name in MODULES:
        if os.path.exists(os.path.join(here, name + ".py")):
            print("making", name, flush=True)
            importlib.import_module(name).make(out_dir)
    print("making family fixtures (roberta, xlm-roberta, big_bird)", flush=True)
    make_family_fixtures(out_dir)


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
    import torch
    from safetensors.torch import save_file
    with torch.no_grad():
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
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


if __name__ == "__main__":
    main(sys.argv[1])
