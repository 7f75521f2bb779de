#!/usr/bin/env python3
"""The numbers issue 13's targets name, from scripts/gpu_check.sh's results so far.

Usage: gpu_check_highlights.py RESULTS_DIR LOGS_DIR   -> RESULTS_DIR/highlights.json
  kernel_fused_vs_flex  per (mode, dtype, B, n): fused ms, fraction of the bandwidth floor,
                        FlexAttention ms, speedup (target: >= 1.5 for n >= 8k, fwd)
  reader_race           per (B, n): LittleBird tokens/s, peak MiB, ratio to BigBird and
                        ModernBERT (targets at 16k: >= 3 and >= 1.5)
  hf_equivalence        one line per comparison
  tests, train          the summary lines of their logs
Whatever is missing is left out; this never fails the check.
"""
import glob
import json
import os
import re
import sys


def main():
    results, logs = sys.argv[1], sys.argv[2]

    def load(pattern):
        docs = []
        for path in sorted(glob.glob(os.path.join(results, pattern))):
            try:
                with open(path) as f:
                    docs.append(json.load(f))
            except (OSError, ValueError) as e:
                print(f"highlights: {path}: {e}")
        return docs

    h = {}
    flex = {(r["mode"], r["dtype"], r["B"], r["n"]): r for doc in load("flex_attention_*.json")
            for r in doc["results"] if r.get("status") == "ok"}
    norm = {"BFloat16": "bfloat16", "Half": "float16", "Float": "float32"}
    for doc in load("attention_cuda_*.json"):
        rows = []
        for r in doc["results"]:
            if r["impl"] != "fused" or r.get("status") != "ok":
                continue
            f = flex.get((r["mode"], norm.get(r["dtype"], r["dtype"]), r["B"], r["n"]))
            rows.append(dict(mode=r["mode"], dtype=r["dtype"], B=r["B"], n=r["n"], fused_ms=r["ms"],
                             floor_fraction=r.get("floor_fraction"), flex_ms=f["ms"] if f else None,
                             speedup_vs_flex=f["ms"] / r["ms"] if f else None))
        h["kernel_fused_vs_flex"] = rows
        h["kernel_not_ok"] = [f"{r['impl']} {r['mode']} {r['dtype']} B={r['B']} n={r['n']}: {r.get('status')}"
                              for r in doc["results"] if r.get("status") != "ok"]
    for doc in load("reader_race_*.json"):
        cell = {(r["model"], r["B"], r["n"]): r for r in doc["results"]
                if r["mode"] == "forward" and r.get("status") == "ok"}
        rows = []
        for (m, B, n), r in sorted(cell.items()):
            if m != "littlebird":
                continue
            row = dict(B=B, n=n, littlebird_tokens_per_s=r["tokens_per_second"], littlebird_peak_mib=r.get("peak_mib"))
            for other in ("bigbird", "modernbert"):
                o = cell.get((other, B, n))
                row[f"vs_{other}"] = r["tokens_per_second"] / o["tokens_per_second"] if o else None
            rows.append(row)
        h["reader_race"] = rows
        h["reader_race_other"] = [f"{r['model']} {r['mode']} B={r['B']} n={r['n']}: {r.get('status')}"
                                  + (f" {r['tokens_per_second']:.0f} tok/s" if r.get("status") == "ok" else "")
                                  for r in doc["results"] if r.get("status") != "ok" or r["mode"] != "forward"]
    for doc in load("hf_equivalence_*.json"):
        h["hf_equivalence"] = [f"{r['model']} {r['dtype']}: {r['status']} (longqa {r.get('longqa_err', 0):.2e}, "
                               f"HF {r.get('hf_err', 0):.2e}, tolerance {r.get('tolerance', 0):.2e})"
                               for r in doc["results"]]
    for name in ("tests", "train"):
        path = os.path.join(logs, name + ".log")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            keep = re.compile(r"test cases:|All tests passed|trained \d+ steps|train-reader:|eval at step|exit \d+|"
                              r"fails when required")
            h[name] = [line for line in lines if keep.search(line)][-12:]
    with open(os.path.join(results, "highlights.json"), "w") as f:
        json.dump(h, f, indent=1)
    print("highlights:", ", ".join(f"{k} ({len(v)})" for k, v in h.items()) or "nothing yet")


if __name__ == "__main__":
    main()
