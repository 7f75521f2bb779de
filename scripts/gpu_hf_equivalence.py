#!/usr/bin/env python3
"""Hugging Face equivalence on the GPU in bf16/fp16: longqa's logits against transformers'.

tests/test_hf_equivalence.cpp checks longqa's BERT/ELECTRA QA logits against transformers' on
the CPU in float32 (<= 1e-4). This is the same comparison on a CUDA device in reduced precision,
through bench/reader_length_bench --logits (QaModel::load, QaModel::to(device, dtype),
QaModel::forward on the given inputs):

  for BertForQuestionAnswering and ElectraForQuestionAnswering (random weights, saved with
  save_pretrained), tiny (2 layers, hidden 64) and base (12 layers, hidden 768) sizes, a ragged
  batch (4 x 384 for base): transformers in float32 (TF32 off) is the reference; then
  transformers and longqa each in float32, bfloat16 and float16 on the same device.
  err(x) = max |x - reference| over the valid tokens, divided by max |reference|.
  Pass: longqa fp32 err <= 1e-4 (tiny) / 1e-3 (base), and for each reduced dtype
        longqa err <= 2 * transformers' own err in that dtype + 1e-2
  (longqa is no further from the float32 answer than transformers itself, with a margin).

Writes a JSON record of every comparison (--out) and exits 1 if one fails.
--dry-run: CPU, tiny models only, bfloat16: seconds (for scripts/gpu_check.sh --dry-run).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_models(work, sizes):
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, ElectraConfig, ElectraForQuestionAnswering
    shapes = dict(tiny=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128),
                  base=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072))
    out = []
    for size in sizes:
        for kind in ("bert", "electra"):
            torch.manual_seed(1234)
            common = dict(vocab_size=1000, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                          **shapes[size])
            if kind == "bert":
                model = BertForQuestionAnswering(BertConfig(**common))
            else:
                model = ElectraForQuestionAnswering(ElectraConfig(embedding_size=shapes[size]["hidden_size"] // 2,
                                                                  **common))
            path = os.path.join(work, f"{kind}_{size}")
            model.eval().save_pretrained(path, safe_serialization=True)
            out.append((f"{kind}_{size}", size, model, path))
    return out


def inputs(size, gen):
    import torch
    batch, n = (4, 384) if size == "base" else (3, 57)
    ids = torch.randint(5, 1000, (batch, n), generator=gen)
    types = torch.zeros(batch, n, dtype=torch.long)
    mask = torch.zeros(batch, n, dtype=torch.long)
    for b, length in enumerate([n, n - 13, 9, n // 2][:batch]):  # ragged: padding at the end
        mask[b, :length] = 1
        types[b, length // 3:length] = 1
        ids[b, length:] = 0
    return ids, types, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    build = os.environ.get("LONGQA_BUILD_DIR", os.path.join(ROOT, "build"))
    ap.add_argument("--reader-length-bench", default=os.path.join(build, "bench", "reader_length_bench"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtypes", default="bfloat16,float16")
    ap.add_argument("--sizes", default="tiny,base")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "hf_equivalence_gpu.json"))
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny models, bfloat16")
    args = ap.parse_args()
    if args.dry_run:
        args.device, args.dtypes, args.sizes = "cpu", "bfloat16", "tiny"

    import torch
    from safetensors.torch import load_file, save_file
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_hf_equivalence: no CUDA device (use --dry-run for a CPU smoke run)")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dtypes = [d for d in args.dtypes.split(",") if d]
    work = tempfile.mkdtemp(prefix="hf_equivalence_")
    gen = torch.Generator().manual_seed(99)
    doc = dict(check="hf_equivalence_gpu", device=args.device,
               machine=dict(torch=torch.__version__,
                            gpu=torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"),
               rule="err = max|x - HF fp32| / max|HF fp32| over valid tokens; longqa fp32 <= 1e-4 (tiny) "
                    "or 1e-3 (base); reduced dtype: longqa err <= 2 * HF err + 1e-2",
               results=[])
    failures = 0
    print(f"{'model':<14} {'dtype':<9} {'HF err':>10} {'longqa err':>11} {'tolerance':>10}  result")
    for name, size, model, path in make_models(work, [s for s in args.sizes.split(",") if s]):
        ids, types, mask = inputs(size, gen)
        feed = os.path.join(work, f"{name}_inputs.safetensors")
        save_file({"input_ids": ids, "token_type_ids": types, "attention_mask": mask}, feed)
        valid = mask.bool()
        dev = lambda t: t.to(args.device)

        def hf_logits(dtype):
            m = model.to(device=args.device, dtype=dtype)
            with torch.inference_mode():
                o = m(input_ids=dev(ids), token_type_ids=dev(types), attention_mask=dev(mask))
            return torch.stack([o.start_logits, o.end_logits]).float().cpu()

        def ours(dtype_name):
            out = os.path.join(work, f"{name}_{dtype_name}_logits.safetensors")
            proc = subprocess.run([args.reader_length_bench, "--model", path, "--device", args.device, "--dtype",
                                   dtype_name, "--logits", feed, out], capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"reader_length_bench --logits exit {proc.returncode}: {proc.stderr[-400:]}")
            t = load_file(out)
            return torch.stack([t["start_logits"], t["end_logits"]]).float()

        reference = hf_logits(torch.float32)
        scale = reference[:, valid].abs().max().item()
        err = lambda x: ((x - reference)[:, valid].abs().max().item() / scale)
        for dtype_name in ["float32"] + dtypes:
            rec = dict(model=name, dtype=dtype_name, scale=scale)
            try:
                hf = hf_logits(getattr(torch, dtype_name))
                mine = ours(dtype_name)
                rec.update(hf_err=err(hf), longqa_err=err(mine), longqa_vs_hf=(mine - hf)[:, valid].abs().max().item())
                if dtype_name == "float32":
                    rec["tolerance"] = 1e-4 if size == "tiny" else 1e-3
                else:
                    rec["tolerance"] = 2 * rec["hf_err"] + 1e-2
                # Also: do both pick the same best start/end per sequence?
                masked = lambda x: x.masked_fill(~valid, float("-inf")).argmax(-1)
                rec["argmax_agreement"] = (masked(mine) == masked(reference)).float().mean().item()
                rec["status"] = "pass" if rec["longqa_err"] <= rec["tolerance"] else "FAIL"
            except Exception as e:  # noqa: BLE001 - recorded, counted as a failure
                rec["status"] = f"error: {type(e).__name__}: {str(e).strip().splitlines()[-1][:300] if str(e) else ''}"
            failures += rec["status"] != "pass"
            doc["results"].append(rec)
            print(f"{name:<14} {dtype_name:<9} {rec.get('hf_err', float('nan')):10.2e} "
                  f"{rec.get('longqa_err', float('nan')):11.2e} {rec.get('tolerance', float('nan')):10.2e}  "
                  f"{rec['status']}", flush=True)
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                json.dump(doc, f, indent=2)
        model.to("cpu", torch.float32)
    doc["failures"] = failures
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"{failures} failing comparisons; wrote {args.out}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
