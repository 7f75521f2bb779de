#!/usr/bin/env python3
"""The CPU race: longqa's default-en against the transformers long-document peers, one run, one machine.

Every model has default-en's dimensions (6 layers, hidden 384, 12 heads, FFN 1536); the peers
have random weights (their speed does not depend on the values), longqa reads with the real
models/default-en:
  longqa       bench/reader_length_bench --mode read: Reader::read end to end (tokenizer,
               windows, QA model, answer search) on real English text of n tokens, one window;
               float32, bfloat16 and int8 (--dtype)
  bigbird      BigBirdForQuestionAnswering, attention_type block_sparse (block 64, 3 random blocks)
  longformer   LongformerForQuestionAnswering, attention_window 256, global attention on the
               first 16 tokens (the question)
  modernbert   ModernBertForQuestionAnswering, sdpa, local attention 128, global every third layer
  bert512      BertForQuestionAnswering reading n tokens as ceil(n/512) windows of 512 in one batch
The peers get random token ids, all valid, attention_mask=None (their fastest path), forward only
in inference mode. Each (model, n) runs in its own process, so that its peak resident memory is
its own; time is the median of --reps forward passes after one warm-up, with --threads intra-op
threads. A cell that would end past --deadline-s, or after a slower-than-allowed previous
length, is skipped. The JSON (default bench/results/cpu_race.json) is rewritten after every
cell; a plot goes beside it in bench/results/plots/cpu_race.png.

  .venv/bin/python bench/cpu_race.py [--lengths 1024,4096,8192,16384] [--long-lengths 32768,65536]
                                     [--threads 2] [--reps 2] [--deadline-s 1500]
  --dry-run: lengths 256 and 512, tiny models, one rep (40 s; a test: fails unless every cell ran).
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = dict(layers=6, hidden=384, heads=12, ffn=1536)
TINY = dict(layers=2, hidden=64, heads=4, ffn=128)
PEERS = ("bigbird", "longformer", "modernbert", "bert512")


def peer_model(name, size, max_n):
    import torch
    import transformers as tf
    torch.manual_seed(0)
    common = dict(vocab_size=30522, hidden_size=size["hidden"], num_hidden_layers=size["layers"],
                  num_attention_heads=size["heads"], intermediate_size=size["ffn"])
    if name == "bigbird":
        model = tf.BigBirdForQuestionAnswering(tf.BigBirdConfig(
            attention_type="block_sparse", block_size=64, num_random_blocks=3,
            max_position_embeddings=max_n, **common))
    elif name == "longformer":
        model = tf.LongformerForQuestionAnswering(tf.LongformerConfig(
            attention_window=256, max_position_embeddings=max_n + 2, **common))
    elif name == "modernbert":
        config = tf.ModernBertConfig(local_attention=128, global_attn_every_n_layers=3,
                                     max_position_embeddings=max_n, attn_implementation="sdpa", pad_token_id=0,
                                     bos_token_id=101, eos_token_id=102, cls_token_id=101, sep_token_id=102,
                                     **common)
        model = tf.ModernBertForQuestionAnswering(config)
    elif name == "bert512":
        model = tf.BertForQuestionAnswering(tf.BertConfig(max_position_embeddings=512, **common))
    else:
        raise ValueError(name)
    return model.eval()


def run_cell(name, n, size, reps, threads):
    """In a child process: one peer at n tokens. Prints one JSON line."""
    import torch
    torch.set_num_threads(threads)
    model = peer_model(name, size, max(n, 512))
    if name == "bert512":
        windows = math.ceil(n / 512)
        ids = torch.randint(5, 30000, (windows, 512))
    else:
        ids = torch.randint(5, 30000, (1, n))
    extra = {}
    if name == "longformer":  # global attention on a 16-token question, as Longformer's QA head expects
        extra["global_attention_mask"] = torch.zeros_like(ids)
        extra["global_attention_mask"][:, :16] = 1
    times = []
    with torch.inference_mode():
        for r in range(reps + 1):
            start = time.perf_counter()
            model(input_ids=ids, **extra)
            if r > 0:
                times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    attention = getattr(model.config, "attention_type", None) or getattr(model.config, "_attn_implementation", None)
    print(json.dumps(dict(ms=times[len(times) // 2], peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          attention=attention)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    build = os.environ.get("LONGQA_BUILD_DIR", os.path.join(ROOT, "build"))
    ap.add_argument("--lengths", default="1024,4096,8192,16384", help="every model")
    ap.add_argument("--long-lengths", default="32768,65536", help="longqa only (one window)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--deadline-s", type=float, default=1500)
    ap.add_argument("--cell-limit-s", type=float, default=240, help="skip a model's longer lengths after a cell this slow")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "default-en"))
    ap.add_argument("--dtypes", default="float32,bfloat16,int8")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--reader-length-bench", default=os.path.join(build, "bench", "reader_length_bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "cpu_race.json"))
    ap.add_argument("--plot", default=None, help="PNG path (default: bench/results/plots/<out name>.png)")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--cell", nargs=2, metavar=("MODEL", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cell:
        run_cell(args.cell[0], int(args.cell[1]), TINY if args.tiny else SIZE, args.reps, args.threads)
        return
    if args.dry_run:
        args.lengths, args.long_lengths, args.reps, args.deadline_s = "256,512", "", 1, 300
    lengths = [int(x) for x in args.lengths.split(",") if x]
    long_lengths = [int(x) for x in args.long_lengths.split(",") if x]
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            ap.error(f"--peers: {p} is not one of {','.join(PEERS)}")
    start = time.monotonic()
    left = lambda: args.deadline_s - (time.monotonic() - start)

    import torch
    import transformers
    doc = dict(benchmark="cpu_race", what=__doc__.split("\n\n")[0],
               machine=dict(cpu=cpu_model(), cores=os.cpu_count(), threads=args.threads, torch=torch.__version__,
                            transformers=transformers.__version__),
               config=dict(size=TINY if args.dry_run else SIZE, reps=args.reps, model=args.model,
                           statistic="median of reps after one warm-up; peak = the process's max RSS"),
               results=[])

    def save():
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=2)

    def record(rec):
        doc["results"].append(rec)
        save()
        print(f"{rec['model']:<18} {rec['n']:>6} {rec.get('ms', 0):10.1f} {rec.get('peak_mib') or 0:9.0f}  {rec['status']}",
              flush=True)

    print(f"{'model':<18} {'n':>6} {'ms':>10} {'peak MiB':>9}  status")
    work = tempfile.mkdtemp(prefix="cpu_race_")
    for dtype in [d for d in args.dtypes.split(",") if d]:
        name = f"longqa {dtype}"
        all_n = lengths + long_lengths
        if left() < 10:
            for n in all_n:
                record(dict(model=name, n=n, status="skipped: deadline"))
            continue
        out = os.path.join(work, f"longqa_{dtype}.json")
        model_dir = args.model
        if args.dry_run:
            model_dir = tiny_longqa(work, build)
        cmd = [args.reader_length_bench, "--model", model_dir, "--mode", "read", "--dtype", dtype,
               "--lengths", ",".join(map(str, all_n)), "--reps", str(args.reps), "--threads", str(args.threads),
               "--out", out]
        try:
            subprocess.run(cmd, capture_output=True, text=True, timeout=max(10, left()))
        except subprocess.TimeoutExpired:
            pass
        rows = json.load(open(out)).get("rows", []) if os.path.exists(out) else []
        got = {r["tokens"]: r for r in rows}
        for n in all_n:
            r = got.get(n)
            if r and r.get("status", "ok") == "ok":
                record(dict(model=name, n=n, status="ok", ms=r["median_ms"], peak_mib=r["peak_rss_mib"]))
            else:
                record(dict(model=name, n=n, status=(r or {}).get("status", "not reached")))

    for peer in peers:
        previous = None
        for n in lengths:
            if previous is not None and (previous[1] > args.cell_limit_s * 1e3 or
                                         previous[1] * (n / previous[0]) * (args.reps + 1) / 1e3 > left()):
                record(dict(model=peer, n=n, status="skipped: the previous length took "
                                                    f"{previous[1] / 1e3:.0f} s, {left():.0f} s left"))
                continue
            cmd = [sys.executable, os.path.abspath(__file__), "--cell", peer, str(n), "--reps", str(args.reps),
                   "--threads", str(args.threads)] + (["--tiny"] if args.dry_run else [])
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max(10, left()),
                                      env=dict(os.environ, TRANSFORMERS_VERBOSITY="error"))
                if proc.returncode != 0:
                    record(dict(model=peer, n=n, status=f"error: {proc.stderr.strip().splitlines()[-1][:200] if proc.stderr.strip() else proc.returncode}"))
                    previous = (n, float("inf"))
                    continue
                cell = json.loads(proc.stdout.strip().splitlines()[-1])
                record(dict(model=peer, n=n, status="ok", **cell))
                previous = (n, cell["ms"])
            except subprocess.TimeoutExpired:
                record(dict(model=peer, n=n, status="skipped: deadline"))
                previous = (n, float("inf"))

    summarize(doc, lengths)
    save()
    plot(doc, args.plot or os.path.join(os.path.dirname(os.path.abspath(args.out)), "plots",
                                        os.path.splitext(os.path.basename(args.out))[0] + ".png"))
    print("wrote", args.out)
    if args.dry_run:  # the test: every model ran at every length
        bad = [r for r in doc["results"] if r["status"] != "ok"]
        if bad:
            sys.exit(f"cpu_race --dry-run: {len(bad)} cells did not run: {bad[:3]}")


def summarize(doc, lengths):
    """The ratios the issue asks for, from this run's cells."""
    ok = {(r["model"], r["n"]): r["ms"] for r in doc["results"] if r["status"] == "ok"}
    summary = {}
    dtypes = sorted({m.split(" ", 1)[1] for (m, _) in ok if m.startswith("longqa ")})
    for dtype in dtypes:
        me = f"longqa {dtype}"
        per_n = {}
        for n in lengths:
            peers = {m: ms for (m, k), ms in ok.items() if k == n and not m.startswith("longqa")}
            if (me, n) in ok and peers:
                fastest = min(peers, key=peers.get)
                per_n[str(n)] = dict(fastest_peer=fastest, speedup=peers[fastest] / ok[(me, n)])
        summary[me] = dict(speedup_over_fastest_peer=per_n)
        for a, b in ((32768, 4096), (65536, 8192)):
            if (me, a) in ok and (me, b) in ok:
                summary[me][f"time_{a // 1024}k_over_{b // 1024}k"] = ok[(me, a)] / ok[(me, b)]
    for dtype in (d for d in dtypes if d != "float32"):
        for n in (4096, 16384):
            if ("longqa float32", n) in ok and (f"longqa {dtype}", n) in ok:
                summary[f"{dtype}_speedup_at_{n // 1024}k"] = ok[("longqa float32", n)] / ok[(f"longqa {dtype}", n)]
    peak = [r for r in doc["results"] if r["model"] == "longqa float32" and r["n"] == 65536 and r["status"] == "ok"]
    if peak:
        summary["longqa_float32_peak_mib_at_64k"] = peak[0]["peak_mib"]
    doc["summary"] = summary
    print(json.dumps(summary, indent=1))


def plot(doc, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (t_ax, m_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    models = []
    for r in doc["results"]:
        if r["model"] not in models:
            models.append(r["model"])
    for m in models:
        rows = sorted((r for r in doc["results"] if r["model"] == m and r["status"] == "ok"), key=lambda r: r["n"])
        if rows:
            t_ax.plot([r["n"] for r in rows], [r["ms"] / 1e3 for r in rows], marker="o", label=m)
            m_ax.plot([r["n"] for r in rows], [r["peak_mib"] / 1024 for r in rows], marker="o", label=m)
    for ax, label in ((t_ax, "seconds per document (forward / read)"), (m_ax, "peak resident memory, GiB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    t_ax.legend(fontsize=8)
    fig.suptitle(f"CPU, {doc['machine']['threads']} threads: longqa default-en vs transformers peers (same size)")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def tiny_longqa(work, build):
    """--dry-run: a random tiny LittleBird with default-en's vocabulary."""
    out = os.path.join(work, "tiny")
    if not os.path.exists(out):
        cfg = os.path.join(work, "tiny.json")
        json.dump(dict(model_type="littlebird", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=128, type_vocab_size=2, block_size=16, pack_size=8, max_seq_length=4096,
                       vocab_size=30522), open(cfg, "w"))
        subprocess.run([os.path.join(build, "cli", "longqa"), "model", "init", "--config", cfg, "--vocab",
                        os.path.join(ROOT, "models", "default-en", "vocab.txt"), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
    return out


if __name__ == "__main__":
    main()
