#!/usr/bin/env python3
"""The reader race: tokens/s and peak GPU memory of whole extractive-QA models, side by side.

Three models of the same base size (12 layers, hidden 768, 12 heads, FFN 3072), random weights,
the same dtype (bf16 by default) on the same device, QA logits for batch B of n tokens:
  bigbird     Hugging Face BigBirdForQuestionAnswering, attention_type block_sparse
              (block 64, 3 random blocks)
  modernbert  Hugging Face ModernBertForQuestionAnswering, sdpa, local window 128,
              global attention every third layer
  littlebird  longqa's LittleBird reader (fused CUDA kernel on a GPU): bench/reader_length_bench
              --mode forward on a model directory made by `longqa model init`, run as a
              subprocess; its JSON rows are merged here
All inputs are random token ids with every token valid (the HF models get attention_mask=None,
their fastest path). Timing: one warm-up, then the median of --reps forward passes in
inference mode, each ended by a device synchronisation. Peak memory: the CUDA caching
allocator's peak after a reset (weights included). With --read-tokens, littlebird also runs
Reader::read end to end (tokenizer, windows, answer search) on a real text of that many tokens.

Each (model, n, B) is tried on its own: an out-of-memory or any error is recorded and the
larger n for that model and B are skipped; a cell that the deadline (--deadline-s) cannot fit
is skipped. The JSON (bench/results/reader_race_<gpu>.json, or --out) is rewritten after every
cell, so a killed run leaves what it measured. One table is printed at the end.

--dry-run: CPU, tiny models (2 layers, hidden 64), n = 512 and 1024, B = 1 and 2: seconds;
for scripts/gpu_check.sh --dry-run (imports, argument parsing, the subprocess, the JSON).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = dict(layers=12, hidden=768, heads=12, ffn=3072)
TINY = dict(layers=2, hidden=64, heads=4, ffn=128)
MODELS = ("bigbird", "modernbert", "littlebird")


def parse_ints(text):
    return [int(x) for x in text.split(",") if x]


def hf_model(name, size, max_n, block, dtype, device):
    import torch
    from transformers import (BigBirdConfig, BigBirdForQuestionAnswering, ModernBertConfig,
                              ModernBertForQuestionAnswering)
    torch.manual_seed(0)
    common = dict(vocab_size=50368, hidden_size=size["hidden"], num_hidden_layers=size["layers"],
                  num_attention_heads=size["heads"], intermediate_size=size["ffn"],
                  max_position_embeddings=max_n)
    if name == "bigbird":
        config = BigBirdConfig(attention_type="block_sparse", block_size=block, num_random_blocks=3,
                               **common)
        model = BigBirdForQuestionAnswering(config)
    else:
        config = ModernBertConfig(local_attention=128, global_attn_every_n_layers=3,
                                  attn_implementation="sdpa", **common)
        model = ModernBertForQuestionAnswering(config)
        model.config._attn_implementation = "sdpa"
    return model.to(device=device, dtype=dtype).eval()


def time_hf(model, B, n, device, reps):
    import torch
    ids = torch.randint(5, 32000, (B, n), device=device)
    cuda = device.startswith("cuda")

    def step():
        with torch.inference_mode():
            model(input_ids=ids)
        if cuda:
            torch.cuda.synchronize()

    if cuda:  # peak = this model's weights + what the forward adds (other loaded models left out)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        weights = sum(p.numel() * p.element_size() for p in model.parameters())
    times = []
    for r in range(reps + 1):  # the first is a warm-up
        start = time.perf_counter()
        step()
        if r > 0:
            times.append((time.perf_counter() - start) * 1e3)
    peak = (torch.cuda.max_memory_allocated() - before + weights) / 2 ** 20 if cuda else None
    return statistics.median(times), peak


def littlebird_dir(args, size, max_n, block, pack, work):
    """A random LittleBird reader of `size`, written by `longqa model init`."""
    config = dict(model_type="littlebird", hidden_size=size["hidden"], num_hidden_layers=size["layers"],
                  num_attention_heads=size["heads"], intermediate_size=size["ffn"], type_vocab_size=2,
                  block_size=block, pack_size=pack, max_seq_length=max_n + 128, hidden_act="gelu",
                  layer_norm_eps=1e-12)
    cfg = os.path.join(work, "littlebird_config.json")
    with open(cfg, "w") as f:
        json.dump(config, f)
    out = os.path.join(work, "littlebird")
    subprocess.run([args.longqa, "model", "init", "--config", cfg, "--vocab", args.vocab, "--out", out],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    return out


def run_littlebird(args, model_dir, lengths, batches, mode, work, timeout):
    out = os.path.join(work, f"littlebird_{mode}_{lengths[0]}.json")
    cmd = [args.reader_length_bench, "--model", model_dir, "--mode", mode, "--device", args.device,
           "--dtype", args.dtype, "--lengths", ",".join(map(str, lengths)), "--batches",
           ",".join(map(str, batches)), "--reps", str(args.reps), "--text", args.text, "--out", out]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=None if timeout == float("inf") else max(10, timeout))
    sys.stdout.write(proc.stdout)
    rows = []
    if os.path.exists(out):
        with open(out) as f:
            rows = json.load(f).get("rows", [])
    if proc.returncode != 0 and not rows:
        raise RuntimeError(f"reader_length_bench exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    build = os.environ.get("LONGQA_BUILD_DIR", os.path.join(ROOT, "build"))
    ap.add_argument("--lengths", default="4096,16384,32768,65536")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--read-tokens", type=int, default=32768,
                    help="littlebird: also Reader::read end to end on a real text of this many tokens (0 = no)")
    ap.add_argument("--deadline-s", type=float, default=0, help="skip what would end after this many seconds")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads of reader_length_bench (0 = all)")
    ap.add_argument("--longqa", default=os.path.join(build, "cli", "longqa"))
    ap.add_argument("--reader-length-bench", default=os.path.join(build, "bench", "reader_length_bench"))
    ap.add_argument("--vocab", default=os.path.join(ROOT, "models", "vocab", "kobigbird", "vocab.txt"))
    ap.add_argument("--text", default=os.path.join(ROOT, "examples", "data", "sample_corpus.jsonl"),
                    help="JSONL corpus the Reader::read document is made of")
    ap.add_argument("--work", help="folder for the LittleBird model and its JSON (default: a temporary one)")
    ap.add_argument("--out", help="JSON path (default bench/results/reader_race_<gpu>.json)")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny models and lengths: seconds")
    args = ap.parse_args()

    size, block, pack = BASE, 64, 64
    if args.dry_run:
        args.device, size, block, pack = "cpu", TINY, 16, 8
        args.lengths, args.batches, args.reps = "512,1024", "1,2", 1
        args.read_tokens = min(args.read_tokens, 1024)
    lengths, batches = parse_ints(args.lengths), parse_ints(args.batches)
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            ap.error(f"--models: {m} is not one of {','.join(MODELS)}")
    start = time.monotonic()
    remaining = lambda: (args.deadline_s - (time.monotonic() - start)) if args.deadline_s else float("inf")

    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("reader_race: no CUDA device (use --dry-run for a CPU smoke run)")
    dtype = getattr(torch, args.dtype)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    slug = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", gpu.lower())).strip("_")
    out_path = args.out or os.path.join(ROOT, "bench", "results", f"reader_race_{slug}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    import transformers
    doc = dict(benchmark="reader_race",
               machine=dict(device=gpu, torch=torch.__version__, transformers=transformers.__version__),
               config=dict(size=size, dtype=args.dtype, reps=args.reps, dry_run=args.dry_run,
                           bigbird=dict(attention_type="block_sparse", block_size=block, num_random_blocks=3),
                           modernbert=dict(attn_implementation="sdpa", local_attention=128,
                                           global_attn_every_n_layers=3),
                           littlebird=dict(block_size=block, pack_size=pack),
                           inputs="random ids, all valid; HF models get attention_mask=None",
                           timing="median of reps after one warm-up, synchronised; peak = allocator peak"),
               results=[], errors={})

    def save():
        with open(out_path, "w") as f:
            json.dump(doc, f, indent=2)

    def record(rec):
        doc["results"].append(rec)
        save()
        tps = rec.get("tokens_per_second")
        print(f"{rec['model']:<11} {rec['mode']:<8} {rec['B']:>2} {rec['n']:>6} "
              f"{rec.get('ms', 0):10.1f} {tps or 0:12.0f} {rec.get('peak_mib') or 0:10.0f}  {rec['status']}",
              flush=True)

    print(f"{'model':<11} {'mode':<8} {'B':>2} {'n':>6} {'ms':>10} {'tokens/s':>12} {'peak MiB':>10}  status")
    work = args.work or tempfile.mkdtemp(prefix="reader_race_")
    os.makedirs(work, exist_ok=True)
    failed = {}   # (model, B) -> the n that failed: larger n are skipped
    last_ms = {}  # (model, B) -> (n, ms) of the last success, to predict the next cell
    exponent = dict(bigbird=1.0, modernbert=2.0, littlebird=1.0)  # modernbert has full-attention layers
    loaded = {}
    lb_dir = None

    def skip_reason(m, B, n):
        if (m, B) in failed:
            return f"skipped: n={failed[(m, B)]} failed"
        if (m, B) in last_ms:
            n0, ms0 = last_ms[(m, B)]
            predicted = ms0 * (n / n0) ** exponent[m] * (args.reps + 1) / 1e3
            if predicted > remaining():
                return f"skipped: predicted {predicted:.0f} s, {remaining():.0f} s left"
        if remaining() < 5:
            return "skipped: deadline"
        return None

    for n in lengths:
        for m in models:
            if m == "littlebird":
                todo = []
                for B in batches:
                    reason = skip_reason(m, B, n)
                    if reason:
                        record(dict(model=m, mode="forward", B=B, n=n, status=reason))
                    else:
                        todo.append(B)
                if not todo:
                    continue
                try:
                    if lb_dir is None:
                        lb_dir = littlebird_dir(args, size, max(lengths + [args.read_tokens]), block, pack, work)
                    rows = run_littlebird(args, lb_dir, [n], todo, "forward", work, remaining())
                    got = {r.get("batch", 1): r for r in rows}
                    for B in todo:
                        r = got.get(B, {"status": "error: no row from reader_length_bench"})
                        rec = dict(model=m, mode="forward", B=B, n=n, status=r.get("status", "ok"))
                        if rec["status"] == "ok":
                            rec.update(ms=r["median_ms"], tokens_per_second=r["tokens_per_second"],
                                       peak_mib=r.get("peak_gpu_mib", r.get("peak_rss_mib")))
                            last_ms[(m, B)] = (n, r["median_ms"])
                        else:
                            failed[(m, B)] = n
                        record(rec)
                except Exception as e:  # noqa: BLE001 - a failure is a result
                    doc["errors"][f"{m}@{n}"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                    for B in todo:
                        failed[(m, B)] = n
                        record(dict(model=m, mode="forward", B=B, n=n, status=f"error: {type(e).__name__}"))
                continue
            for B in batches:
                reason = skip_reason(m, B, n)
                if reason:
                    record(dict(model=m, mode="forward", B=B, n=n, status=reason))
                    continue
                rec = dict(model=m, mode="forward", B=B, n=n)
                try:
                    if m not in loaded:
                        loaded[m] = hf_model(m, size, max(lengths), block, dtype, args.device)
                    ms, peak = time_hf(loaded[m], B, n, args.device, args.reps)
                    rec.update(status="ok", ms=ms, tokens_per_second=B * n / ms * 1e3, peak_mib=peak)
                    cfg = loaded[m].config  # what ran (BigBird falls back to full attention on short inputs)
                    rec["attention"] = (getattr(cfg, "attention_type", None) if m == "bigbird"
                                        else getattr(cfg, "_attn_implementation", None))
                    last_ms[(m, B)] = (n, ms)
                except torch.cuda.OutOfMemoryError:
                    rec["status"] = "oom"
                    failed[(m, B)] = n
                except Exception as e:  # noqa: BLE001 - a missing feature is a result too
                    rec["status"] = f"error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                    failed[(m, B)] = n
                finally:
                    if args.device.startswith("cuda"):
                        torch.cuda.empty_cache()
                record(rec)
    loaded.clear()
    if "littlebird" in models and args.read_tokens > 0:
        rec = dict(model="littlebird", mode="read", B=1, n=args.read_tokens)
        if remaining() < 20:
            rec["status"] = "skipped: deadline"
        else:
            try:
                if lb_dir is None:
                    lb_dir = littlebird_dir(args, size, max(lengths + [args.read_tokens]), block, pack, work)
                rows = run_littlebird(args, lb_dir, [args.read_tokens], [1], "read", work, remaining())
                r = rows[0] if rows else {"status": "error: no row"}
                rec["status"] = r.get("status", "ok")
                if rec["status"] == "ok":
                    rec.update(ms=r["median_ms"], tokens_per_second=r["tokens_per_second"],
                               peak_mib=r.get("peak_gpu_mib", r.get("peak_rss_mib")))
            except Exception as e:  # noqa: BLE001
                rec["status"] = f"error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        record(rec)

    # The table: tokens/s (peak MiB) per model, one row per (B, n), and the ratios the issue targets.
    print()
    print(f"{'B':>2} {'n':>6} " + " ".join(f"{m + ' tok/s (MiB)':>26}" for m in models) + "  lb/bigbird lb/modernbert")
    cell = {(r["model"], r["B"], r["n"]): r for r in doc["results"] if r["mode"] == "forward"}
    for B in batches:
        for n in lengths:
            parts, tps = [], {}
            for m in models:
                r = cell.get((m, B, n), {})
                if r.get("status") == "ok":
                    tps[m] = r["tokens_per_second"]
                    parts.append(f"{r['tokens_per_second']:>15.0f} ({r.get('peak_mib') or 0:>7.0f})")
                else:
                    parts.append(f"{(r.get('status') or '-')[:26]:>26}")
            ratio = lambda other: (f"{tps['littlebird'] / tps[other]:10.2f}"
                                   if "littlebird" in tps and other in tps else f"{'-':>10}")
            print(f"{B:>2} {n:>6} " + " ".join(parts) + f"  {ratio('bigbird')} {ratio('modernbert')}")
    save()
    print("wrote", out_path)


if __name__ == "__main__":
    main()
