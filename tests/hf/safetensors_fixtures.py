"""A .safetensors file written by Hugging Face's safetensors library, and the values
a reader must find in it (checked by the "[hf]" cases of tests/test_safetensors.cpp).

Files: safetensors_hf.safetensors and safetensors_hf.json, the latter in the format
check_safetensors.py reads: {"metadata": {...}, "tensors": {name: {"dtype", "shape",
"values" (flattened), "hex" (the raw little-endian bytes)}}}.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

FILE = "safetensors_hf.safetensors"
EXPECTED = "safetensors_hf.json"
METADATA = {"format": "pt", "producer": "safetensors_fixtures.py", "unicode": "grüße ✓"}

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def describe(t):
    """The expected-values entry of one tensor."""
    flat = t.reshape(-1)
    values = flat.double().tolist() if t.is_floating_point() else flat.tolist()
    return {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "values": values,
            "hex": flat.view(torch.uint8).numpy().tobytes().hex()}


def tensors():
    g = torch.Generator().manual_seed(1234)
    return {
        "f64": torch.randn(3, 4, generator=g, dtype=torch.float64),
        "f32": torch.randn(2, 3, 5, generator=g),
        "f16": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(2, 9, generator=g).bfloat16(),
        # Beyond the integers a double holds exactly.
        "i64": torch.tensor([[-2**62 - 3, 2**62 + 1], [0, -1]], dtype=torch.int64),
        "i32": torch.randint(-2**31, 2**31 - 1, (11,), generator=g, dtype=torch.int32),
        "i16": torch.randint(-2**15, 2**15 - 1, (3, 3), generator=g, dtype=torch.int16),
        "i8": torch.arange(-128, 128).to(torch.int8),
        "u8": torch.arange(256).to(torch.uint8).reshape(16, 16),
        "bool": torch.tensor([[True, False, True], [False, False, True]]),
        "scalar": torch.tensor(3.25, dtype=torch.float32),
        "empty": torch.zeros(0, 4, dtype=torch.float16),
        "encoder.layer.0.attention.self.query.weight": torch.randn(4, 4, generator=g),
    }


def make(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    ts = tensors()
    save_file(ts, os.path.join(out_dir, FILE), metadata=METADATA)
    expected = {"metadata": METADATA, "tensors": {name: describe(t) for name, t in ts.items()}}
    with open(os.path.join(out_dir, EXPECTED), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, allow_nan=False, indent=1)


if __name__ == "__main__":
    make(sys.argv[1])
