"""Loads a model directory written by longqa with Hugging Face transformers and checks
its start/end logits against a reference file (the other direction of the equivalence).

usage: check_model.py MODEL_DIR REFERENCE.safetensors
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForQuestionAnswering

model = AutoModelForQuestionAnswering.from_pretrained(sys.argv[1]).eval()
ref = load_file(sys.argv[2])
with torch.no_grad():
    out = model(input_ids=ref["input_ids"], token_type_ids=ref["token_type_ids"],
                attention_mask=ref["attention_mask"])
valid = ref["attention_mask"].bool()
diff = max((out.start_logits - ref["start_logits"])[valid].abs().max().item(),
           (out.end_logits - ref["end_logits"])[valid].abs().max().item())
print(f"max abs difference {diff:.3g}")
sys.exit(0 if diff <= 1e-4 else 1)
