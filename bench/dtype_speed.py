"""Reader::read of default-en in each --dtype, interleaved: round after round, every dtype
reads every length once per round (reader_length_bench, a fresh process each time), so that
this VM's slow and fast spells fall on all dtypes alike; the median over rounds per dtype and
the speedups over float32. Writes bench/results/dtype_speed.json.

  .venv/bin/python bench/dtype_speed.py [--rounds 3] [--lengths 4096,16384] [--threads 2]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "default-en"))
    ap.add_argument("--dtypes", default="float32,bfloat16,int8")
    ap.add_argument("--lengths", default="4096,16384")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3, help="reads per length within one process (median)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "reader_length_bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "dtype_speed.json"))
    args = ap.parse_args()
    dtypes = args.dtypes.split(",")
    times = {d: {} for d in dtypes}  # dtype -> tokens -> [ms per round]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for d in dtypes:
                out = os.path.join(tmp, f"{d}.json")
                subprocess.run([args.bench, "--model", args.model, "--mode", "read", "--dtype", d, "--lengths", args.lengths,
                                "--reps", str(args.reps), "--threads", str(args.threads), "--out", out],
                               check=True, capture_output=True)
                for row in json.load(open(out))["rows"]:
                    times[d].setdefault(row["tokens"], []).append(row["median_ms"])
                print(f"round {r + 1} {d}: " + ", ".join(f"{n}: {v[-1]:.0f} ms" for n, v in times[d].items()), flush=True)
    median = {d: {n: statistics.median(v) for n, v in per.items()} for d, per in times.items()}
    speedup = {d: {n: median["float32"][n] / median[d][n] for n in median[d]} for d in dtypes if d != "float32"}
    doc = {"benchmark": "dtype_speed", "what": __doc__.split("\n\n")[0],
           "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": args.threads},
           "config": {"model": os.path.relpath(args.model, ROOT), "rounds": args.rounds, "reps": args.reps},
           "ms_per_round": times, "median_ms": median, "speedup_over_float32": speedup}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    for d, s in speedup.items():
        print(f"{d}: " + ", ".join(f"{n} tokens {x:.2f}x" for n, x in s.items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
