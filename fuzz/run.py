"""Runs the libFuzzer harnesses built in build-fuzz/ and writes a JSON summary: per harness the
executions, seconds, coverage (edges) and features, corpus size, and findings (the crash,
leak or sanitizer report's first lines and the saved input). Exit 1 when anything was found.
Called by scripts/fuzz.sh, which builds first."""
import argparse
import concurrent.futures
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_KORQUAD2 = os.path.join(HERE, "..", "..", "shared", "data", "korquad2", "korquad2.1_train_00.sample.json")
# Harnesses that also start from the shared KorQuAD 2.1 document (CC BY-ND: read from
# ../shared/data at run time, never copied into the repository), with the byte that picks
# their reader: corpus 3 = a .json file, qa_dataset 0 = evaluation mode; html takes its contexts.
SHARED_SEEDS = {"corpus": b"\x03", "qa_dataset": b"\x00", "html": None}
HARNESSES = ["wordpiece", "tokenizer_json", "model_files", "safetensors", "corpus", "qa_dataset", "html", "http_request"]


def run_one(name, args):
    build = os.path.abspath(args.build)
    binary = os.path.join(build, f"fuzz_{name}")
    corpus = os.path.join(build, "corpus", name)
    findings_dir = os.path.join(build, "findings", name)
    seeds = os.path.join(HERE, "seeds", name)
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(findings_dir, exist_ok=True)
    seed_dirs = [seeds]
    if name in SHARED_SEEDS and os.path.exists(SHARED_KORQUAD2):
        shared = os.path.join(build, "shared_seeds", name)
        os.makedirs(shared, exist_ok=True)
        raw = open(SHARED_KORQUAD2, "rb").read()
        if SHARED_SEEDS[name] is None:
            for i, item in enumerate(json.loads(raw)["data"]):
                with open(os.path.join(shared, f"korquad2-context-{i}"), "wb") as f:
                    f.write(item["context"].encode())
        else:
            with open(os.path.join(shared, "korquad2"), "wb") as f:
                f.write(SHARED_SEEDS[name] + raw)
        seed_dirs.append(shared)
    tmp = os.path.join(build, "tmp", name)
    os.makedirs(tmp, exist_ok=True)
    env = dict(os.environ, TMPDIR=tmp,
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    command = [binary, f"-max_total_time={args.seconds}", f"-runs={args.runs}", "-print_final_stats=1",
               "-timeout=20", "-rss_limit_mb=2048", "-max_len=65536", f"-artifact_prefix={findings_dir}/",
               corpus, *seed_dirs]
    start = time.monotonic()
    log_path = os.path.join(build, f"fuzz_{name}.log")
    with open(log_path, "w") as log:
        rc = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    seconds = time.monotonic() - start
    text = open(log_path, errors="replace").read()
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", text, re.M))
    progress = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", text, re.M)
    last = progress[-1] if progress else ("0", "0", "0", "0")
    findings = []
    if rc != 0:
        report = [l for l in text.splitlines() if re.search(r"ERROR|SUMMARY|property violated|runtime error|deadly signal|Test unit written", l)]
        artifacts = sorted(os.listdir(findings_dir))
        findings.append({"exit_code": rc, "report": report[:12], "inputs": [os.path.join(findings_dir, a) for a in artifacts]})
    shutil.rmtree(tmp, ignore_errors=True)
    return name, {
        "executions": int(stats.get("number_of_executed_units", last[0])),
        "seconds": round(seconds, 1),
        "executions_per_second": int(stats.get("average_exec_per_sec", 0)),
        "coverage_edges": int(last[1]),
        "features": int(last[2]),
        "corpus_inputs": int(last[3]),
        "peak_rss_mb": int(stats.get("peak_rss_mb", 0)),
        "seeds": sum(len(os.listdir(d)) for d in seed_dirs),
        "findings": findings,
        "log": log_path,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-fuzz"))
    ap.add_argument("--seconds", type=int, default=1800, help="each harness at most this long")
    ap.add_argument("--runs", type=int, default=10_000_000, help="each harness at most this many executions")
    ap.add_argument("--jobs", type=int, default=2, help="harnesses run at once")
    ap.add_argument("--only", default="", help="comma-separated harness names")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or HARNESSES
    for n in names:
        if n not in HARNESSES:
            ap.error(f"unknown harness {n}; have {', '.join(HARNESSES)}")
    clang = subprocess.run(["clang++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    summary = {"what": "libFuzzer harnesses of every outside-input parser, ASan + UBSan + leak detection (fuzz/, scripts/fuzz.sh)",
               "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "compiler": clang},
               "limits": {"seconds_per_harness": args.seconds, "runs_per_harness": args.runs, "jobs": args.jobs},
               "harnesses": {}}
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for name, result in pool.map(lambda n: run_one(n, args), names):
            summary["harnesses"][name] = result
            print(f"[fuzz] {name}: {result['executions']:,} executions in {result['seconds']} s, "
                  f"cov {result['coverage_edges']}, {len(result['findings'])} finding(s)", flush=True)
    summary["wall_seconds"] = round(time.time() - started, 1)
    summary["open_findings"] = sum(len(r["findings"]) for r in summary["harnesses"].values())
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"[fuzz] {summary['open_findings']} finding(s); summary in {args.out}")
    return 1 if summary["open_findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
