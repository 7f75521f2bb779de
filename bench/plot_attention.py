#!/usr/bin/env python3
"""Plots the GPU attention benchmarks: time vs n for every implementation.

Reads bench/results/attention_cuda_<gpu>.json (fused kernel, blocked libtorch, dense SDPA;
from attention_cuda_bench) and, when present, flex_attention_<gpu>.json (FlexAttention), and
writes bench/results/attention_cuda_<gpu>.png: one panel per (mode, dtype, batch), log-log
milliseconds against n, with the bandwidth floor of a perfect USWAttn kernel dashed.
Also, for each reader_race_<gpu>.json (bench/reader_race.py), reader_race_<gpu>.png: tokens/s
and peak memory against n for every model and batch size.
A separate step from the benchmarks, so it can run on a machine with matplotlib and no GPU.
"""
import argparse
import glob
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def plot_reader_race(plt, path):
    doc = load(path)
    rows = [r for r in doc["results"] if r.get("mode") == "forward" and r.get("status") == "ok"]
    if not rows:
        print(f"plot_attention: nothing measured in {path}")
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for model in sorted({r["model"] for r in rows}):
        for B in sorted({r["B"] for r in rows}):
            pts = sorted((r["n"], r["tokens_per_second"], r.get("peak_mib") or 0) for r in rows
                         if r["model"] == model and r["B"] == B)
            if pts:
                n, tps, mem = zip(*pts)
                style = "o-" if B == 1 else "s--"
                axes[0].plot(n, tps, style, label=f"{model} B={B}", markersize=4)
                axes[1].plot(n, [m / 1024 for m in mem], style, label=f"{model} B={B}", markersize=4)
    for ax, label in zip(axes, ("tokens/s", "peak memory (GiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (tokens)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    cfg = doc.get("config", {})
    fig.suptitle(f"QA model forward on {doc['machine']['device']} ({cfg.get('dtype')}, "
                 f"{cfg.get('size', {}).get('layers')} layers, hidden {cfg.get('size', {}).get('hidden')})")
    fig.tight_layout()
    out = path[:-len(".json")] + ".png"
    fig.savefig(out, dpi=120)
    print("wrote", out)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(root, "bench", "results"))
    args = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_attention: matplotlib is not installed (pip install matplotlib)")

    files = sorted(glob.glob(os.path.join(args.results, "attention_cuda_*.json")))
    races = sorted(glob.glob(os.path.join(args.results, "reader_race_*.json")))
    if not files and not races:
        sys.exit(f"plot_attention: no attention_cuda_*.json or reader_race_*.json in {args.results}")
    for path in races:
        plot_reader_race(plt, path)
    for path in files:
        gpu_slug = os.path.basename(path)[len("attention_cuda_"):-len(".json")]
        doc = load(path)
        records = [r for r in doc["results"] if r.get("status") == "ok"]
        floors = {(r["mode"], r["dtype"], r["B"], r["n"]): r["floor_ms"]
                  for r in doc["results"] if r["impl"] == "fused"}
        flex_path = os.path.join(args.results, f"flex_attention_{gpu_slug}.json")
        if os.path.exists(flex_path):
            records += [r for r in load(flex_path)["results"] if r.get("status") == "ok"]
        # dtype names differ between C++ ("Half", "BFloat16") and Python ("float16", "bfloat16").
        norm = {"Half": "float16", "BFloat16": "bfloat16", "Float": "float32"}
        for r in records:
            r["dtype"] = norm.get(r["dtype"], r["dtype"])
        floors = {(m, norm.get(d, d), b, n): v for (m, d, b, n), v in floors.items()}

        modes = sorted({r["mode"] for r in records}, key=["fwd", "fwd+bwd"].index)
        panels = sorted({(r["dtype"], r["B"]) for r in records})
        if not modes or not panels:
            print(f"plot_attention: nothing measured in {path}")
            continue
        fig, axes = plt.subplots(len(modes), len(panels), figsize=(4.2 * len(panels), 3.6 * len(modes)),
                                 squeeze=False, sharex=True)
        styles = {"fused": "o-", "blocked": "s-", "sdpa_dense": "^-", "flex": "d-"}
        for row, mode in enumerate(modes):
            for col, (dtype, B) in enumerate(panels):
                ax = axes[row][col]
                for impl in ("fused", "flex", "blocked", "sdpa_dense"):
                    pts = sorted((r["n"], r["ms"]) for r in records
                                 if r["impl"] == impl and r["mode"] == mode and r["dtype"] == dtype
                                 and r["B"] == B)
                    if pts:
                        ax.plot(*zip(*pts), styles[impl], label=impl, markersize=4)
                fl = sorted((n, v) for (m, d, b, n), v in floors.items() if m == mode and d == dtype and b == B)
                if fl:
                    ax.plot(*zip(*fl), "k--", linewidth=1, label="bandwidth floor")
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_title(f"{mode}, {dtype}, B={B}", fontsize=10)
                ax.grid(True, which="both", alpha=0.3)
                if row == len(modes) - 1:
                    ax.set_xlabel("n (tokens)")
                if col == 0:
                    ax.set_ylabel("ms")
        axes[0][0].legend(fontsize=8)
        cfg = doc.get("config", {})
        fig.suptitle(f"USWAttn on {doc['machine']['gpu']} (H={cfg.get('H')}, dh={cfg.get('dh')}, "
                     f"b={cfg.get('block_size')}, s={cfg.get('packed')})")
        fig.tight_layout()
        out = os.path.join(args.results, f"attention_cuda_{gpu_slug}.png")
        fig.savefig(out, dpi=120)
        print("wrote", out)


if __name__ == "__main__":
    main()
