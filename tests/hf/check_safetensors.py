"""Checks a .safetensors file (written by longqa's save_safetensors) with Hugging Face's
safetensors library against expected values (the format of safetensors_fixtures.py).

Usage: check_safetensors.py FILE EXPECTED_JSON; exit status 0 when everything matches.
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from safetensors_fixtures import describe


def main(path, expected_path):
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    errors = []
    # load_file validates the whole layout (offsets contiguous, buffer fully covered).
    loaded = load_file(path)
    with safe_open(path, framework="pt") as f:
        if f.metadata() != expected["metadata"]:
            errors.append(f"metadata {f.metadata()} != {expected['metadata']}")
        if sorted(f.keys()) != sorted(expected["tensors"]):
            errors.append(f"names {sorted(f.keys())} != {sorted(expected['tensors'])}")
        for name, want in expected["tensors"].items():
            if name not in loaded:
                continue
            got = describe(f.get_tensor(name))
            if not torch.equal(f.get_tensor(name), loaded[name]):
                errors.append(f"{name}: safe_open and load_file disagree")
            for key in ("dtype", "shape", "values", "hex"):
                if got[key] != want[key]:
                    errors.append(f"{name}: {key} {got[key]} != {want[key]}")
    for e in errors:
        print(f"{path}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
