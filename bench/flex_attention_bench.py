#!/usr/bin/env python3
"""USWAttn through PyTorch FlexAttention, timed on the shapes of attention_cuda_bench.

The same layer as longqa's fused kernel (research/littlebird.md §0.2): keys = [packed keys |
token keys], mask_mod = packed keys ∪ key block 0 ∪ blocks qb-1..qb+1 (valid keys only),
score_mod = -Dp on packed keys and -BiALiBi on token keys (uncapped: bialibi_max_distance
changes no cost, so the timings hold for capped models too). FlexAttention scales the scores by
1/sqrt(dh) before score_mod, as the kernel does. The block mask is built once per shape (not
timed); flex_attention is torch.compile'd (Triton).

Writes bench/results/flex_attention_<gpu>.json with the record layout of
attention_cuda_bench (impl "flex"), rewritten after every record (a killed run keeps what it
measured). --check compares with a float64 dense formula first. --dtypes, --batches, --modes,
--min-n/--max-n choose the grid; --deadline-s stops starting new shapes after that many seconds
(each shape compiles anew, ~seconds). --dry-run: CPU, eager (uncompiled) flex_attention, the check
and one tiny shape, for scripts/gpu_check.sh --dry-run.
"""
import argparse
import json
import os
import re
import statistics
import time

import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

H, DH, BLOCK, PACKED = 12, 64, 64, 64
FLEX_COMPILED = True
DEVICE = "cuda"
flex = torch.compile(flex_attention, dynamic=False)  # replaced by the eager function with --dry-run


def make_inputs(B, n, dtype, grad, device="cuda"):
    g = torch.Generator(device=device).manual_seed(0)
    r = lambda *shape: torch.randn(*shape, generator=g, device=device, dtype=dtype)
    t = dict(q=r(B, H, n, DH), k=r(B, H, n, DH), v=r(B, H, n, DH),
             pk=r(B, H, PACKED, DH), pv=r(B, H, PACKED, DH),
             alpha=torch.full((H,), 0.5, device=device, dtype=dtype),
             beta=torch.full((H,), 0.05, device=device, dtype=dtype),
             gamma=torch.full((H,), 0.03, device=device, dtype=dtype))
    if grad:
        for x in t.values():
            x.requires_grad_(True)
    t["valid"] = torch.ones(B, n, dtype=torch.bool, device=device)
    return t


def usw_block_mask(valid, s, b):
    B, n = valid.shape

    def mask_mod(bi, h, qi, kv):
        j = kv - s
        jc = j.clamp(min=0)
        kb, qb = jc // b, qi // b
        window = (kb == 0) | ((kb - qb).abs() <= 1)
        return (kv < s) | ((j >= 0) & window & valid[bi, jc])

    return create_block_mask(mask_mod, B, None, n, s + n, device=valid.device)


def usw_flex(t, block_mask, b=BLOCK):
    s = t["pk"].shape[2]
    alpha, beta, gamma = t["alpha"], t["beta"], t["gamma"]
    dp = (beta + gamma) * (0.5 * b)

    def score_mod(score, bi, h, qi, kv):
        j = kv - s
        d = qi - j
        tok = torch.where(d == 0, 0.0,
                          torch.where((qi == 0) | (j == 0), alpha[h],
                                      torch.where(d > 0, beta[h] * d, gamma[h] * (-d))))
        return score - torch.where(kv < s, dp[h], tok)

    keys = torch.cat([t["pk"], t["k"]], 2)
    vals = torch.cat([t["pv"], t["v"]], 2)
    out = (flex if FLEX_COMPILED else flex_attention)(t["q"], keys, vals, score_mod=score_mod, block_mask=block_mask)
    return out.masked_fill(~t["valid"][:, None, :, None], 0)


def usw_dense_reference(t, b=BLOCK):
    """The formula in float64, O(n^2): only for --check."""
    d = {k: v.detach().double() if v.is_floating_point() else v for k, v in t.items()}
    n, s, dh = d["q"].shape[2], d["pk"].shape[2], d["q"].shape[3]
    keys = torch.cat([d["pk"], d["k"]], 2)
    vals = torch.cat([d["pv"], d["v"]], 2)
    logits = d["q"] @ keys.transpose(-1, -2) / dh ** 0.5
    pos = torch.arange(n, device=logits.device)
    i, j = pos[:, None], pos[None, :]
    hv = lambda x: x.view(1, -1, 1, 1)
    D = torch.where(i > j, hv(d["beta"]) * (i - j), hv(d["gamma"]) * (j - i))
    D = torch.where(((i == 0) | (j == 0)) & (i != j), hv(d["alpha"]), D)
    logits[..., s:] -= D
    logits[..., :s] -= hv((d["beta"] + d["gamma"]) * 0.5 * b)
    kb, qb = j // b, i // b
    ok = ((kb == 0) | ((kb - qb).abs() <= 1))[None] & d["valid"][:, None, :]
    ok = torch.cat([torch.ones_like(ok[..., :1]).expand(-1, -1, s), ok], -1)[:, None]
    out = torch.softmax(logits.masked_fill(~ok, float("-inf")), -1) @ vals
    return out.masked_fill(~d["valid"][:, None, :, None], 0)


def check():
    for dtype in (torch.float32, torch.bfloat16):
        t = make_inputs(2, 300, dtype, grad=False, device=DEVICE)
        t["valid"][1, 170:] = False
        out = usw_flex(t, usw_block_mask(t["valid"], PACKED, BLOCK))
        ref = usw_dense_reference(t)
        err = ((out.double() - ref).abs().max() / ref.abs().max()).item()
        tol = 1e-5 if dtype == torch.float32 else 1e-2
        print(f"check {dtype}: relative error {err:.2e} (tolerance {tol})")
        if err > tol:
            raise SystemExit("flex USWAttn disagrees with the dense formula")


def time_ms(fn):
    fn()
    if DEVICE != "cuda":  # --dry-run: wall clock, one repetition
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1e3
    torch.cuda.synchronize()
    times = []
    while len(times) < 3 or (len(times) < 20 and sum(times) < 300):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    global FLEX_COMPILED, DEVICE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="JSON path (default bench/results/flex_attention_<gpu>.json)")
    ap.add_argument("--max-n", type=int, default=65536)
    ap.add_argument("--min-n", type=int, default=1024)
    ap.add_argument("--dtypes", default="float16,bfloat16")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--modes", default="fwd,fwd+bwd")
    ap.add_argument("--deadline-s", type=float, default=0, help="start no new shape after this many seconds")
    ap.add_argument("--quick", action="store_true", help="n = 1k and 4k, B = 1, bf16")
    ap.add_argument("--check", action="store_true", help="compare with the dense formula first")
    ap.add_argument("--dry-run", action="store_true", help="CPU, eager flex_attention, the check and n = 128")
    args = ap.parse_args()
    started = time.monotonic()
    if args.dry_run:
        FLEX_COMPILED, DEVICE = False, "cpu"
    elif not torch.cuda.is_available():
        raise SystemExit("flex_attention_bench: no CUDA device (use --dry-run for a CPU smoke run)")
    if args.check or args.dry_run:
        check()
    gpu = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu"
    slug = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", gpu.lower())).strip("_")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = args.out or os.path.join(root, "bench", "results", f"flex_attention_{slug}.json")

    ns = [n for n in (1024 * 2 ** e for e in range(7)) if args.min_n <= n <= args.max_n]
    batches = [int(b) for b in args.batches.split(",") if b]
    dtypes = [getattr(torch, d) for d in args.dtypes.split(",") if d]
    modes = [m for m in args.modes.split(",") if m]
    if args.quick:
        ns, batches, dtypes = [1024, 4096], [1], [torch.bfloat16]
    if args.dry_run:
        ns, batches, dtypes, modes = [128], [1], [torch.float32], ["fwd"]  # no CPU backward
    results = []
    doc = dict(benchmark="flex_attention",
               machine=dict(gpu=gpu, torch=torch.__version__,
                            sm_count=torch.cuda.get_device_properties(0).multi_processor_count
                            if DEVICE == "cuda" else 0),
               config=dict(H=H, dh=DH, block_size=BLOCK, packed=PACKED, compiled=FLEX_COMPILED,
                           flops_note="4*dh per (query,key) pair seen; fwd+bwd = 3.5 x fwd",
                           mask_note="block mask built once per shape, not timed"),
               results=results)

    def save():
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        with open(out_path, "w") as f:
            json.dump(doc, f, indent=2)

    print(f"{'dtype':<9} {'B':>2} {'n':>6} {'mode':<8} {'ms':>9} {'TFLOP/s':>8}  status")
    for dtype in dtypes:
        for B in batches:
            for n in ns:
                nb = (n + BLOCK - 1) // BLOCK
                pairs = 0
                for qb in range(nb):
                    blocks = {kb for kb in (0, qb - 1, qb, qb + 1) if 0 <= kb < nb}
                    keys = PACKED + sum(min(BLOCK, n - kb * BLOCK) for kb in blocks)
                    pairs += min(BLOCK, n - qb * BLOCK) * keys
                for mode in modes:
                    train = mode == "fwd+bwd"
                    rec = dict(impl="flex", mode=mode, dtype=str(dtype).replace("torch.", ""), B=B,
                               H=H, n=n, dh=DH, block_size=BLOCK, packed=PACKED,
                               flops=4.0 * B * H * DH * pairs * (3.5 if train else 1.0))
                    if args.deadline_s and time.monotonic() - started > args.deadline_s:
                        rec["status"] = "skipped: deadline"
                        results.append(rec)
                        continue
                    t = mask = grad = None
                    try:
                        t = make_inputs(B, n, dtype, train, device=DEVICE)
                        mask = usw_block_mask(t["valid"], PACKED, BLOCK)
                        grad = torch.randn_like(t["q"]).detach()

                        def step():
                            with torch.set_grad_enabled(train):
                                out = usw_flex(t, mask)
                                if train:
                                    out.backward(grad)

                        ms = time_ms(step)
                        rec.update(status="ok", ms=ms, tflops=rec["flops"] / (ms * 1e-3) / 1e12)
                    except torch.cuda.OutOfMemoryError:
                        rec["status"] = "oom"
                    except Exception as e:  # a compile failure is a result too
                        rec["status"] = f"error: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
                    finally:
                        t = mask = grad = None
                        if DEVICE == "cuda":
                            torch.cuda.empty_cache()
                    results.append(rec)
                    save()
                    print(f"{rec['dtype']:<9} {B:>2} {n:>6} {mode:<8} {rec.get('ms', 0):9.3f} "
                          f"{rec.get('tflops', 0):8.2f}  {rec['status']}", flush=True)

    save()
    print("wrote", out_path)


if __name__ == "__main__":
    main()
