"""ctest entry point for the Hugging Face reference fixtures: python make_fixtures.py OUT_DIR.

Each sibling module below that exists has a make(out_dir) writing its own files there.
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


if __name__ == "__main__":
    main(sys.argv[1])
