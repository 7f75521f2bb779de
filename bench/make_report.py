#!/usr/bin/env python3
"""Builds bench/results/REPORT.md and its PNG plots from the JSON results in bench/results/.

Reads, when present:
  eval/<model>/<set>-<mode>.json and .questions.jsonl   (bench/run_eval_suite.sh)
  reader_length_*.json                                   (reader_length_bench)
  retriever_recall.json, faiss_speed.json                (retriever benchmarks)
  server_load.json, robustness.json                      (server benchmarks)
  attention_cpu.json, reader_cpu.json, linear_cpu.json   (kernel and reader benchmarks)
  cpu_race.json                                          (bench/cpu_race.py)
and writes REPORT.md with one table per benchmark, plus plots/accuracy_vs_length.png,
plots/latency_vs_length.png and plots/memory_vs_length.png (F1, reading time and peak memory
against the number of tokens read). Needs matplotlib for the plots (installed into .venv by
scripts/install_deps.sh); without it the tables are still written.

    .venv/bin/python bench/make_report.py [--results bench/results] [--readme README.md]

With --readme, the same sections (headings one level down, plot links relative to the
repository root) also replace what stands between the README's `<!-- report:begin -->` and
`<!-- report:end -->` lines, so the README's numbers are the report's.
"""
import argparse
import glob
import json
import math
import os
import statistics

MODES = [("paragraph", "paragraph: each question reads its own paragraph"),
         ("article", "whole article: each question reads its whole article as one document"),
         ("open-paragraph", "open domain: retrieve 5 of all paragraphs of the set, read them"),
         ("open-article", "open domain over articles: retrieve 1 of all articles, read it whole")]
LENGTH_BINS = [0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, math.inf]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_result(results, name):
    """results/name parsed, or None when that benchmark has not been run."""
    path = os.path.join(results, name)
    return load(path) if os.path.exists(path) else None


def load_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def fmt(x, digits=1):
    return "" if x is None else f"{x:,.{digits}f}"


def bin_label(lo, hi):
    k = lambda v: f"{v // 1024}k" if v >= 1024 else str(v)
    return f"≥{k(lo)}" if hi == math.inf else f"{k(lo)}–{k(hi)}"


def eval_section(results, plots):
    runs = {}
    for path in sorted(glob.glob(os.path.join(results, "eval", "*", "*.json"))):
        model = os.path.basename(os.path.dirname(path))
        name = os.path.basename(path)[:-len(".json")]
        set_name, _, mode = name.partition("-")
        runs[(model, set_name, mode)] = (load(path), load_lines(path[:-len(".json")] + ".questions.jsonl"))
    if not runs:
        return "", runs
    lines = ["## Accuracy and speed of the readers (public dev halves, articles the models did not train on)", ""]
    for key, text in MODES:
        lines.append(f"- **{key}** — {text}")
    lines.append("")
    rows = []
    for (model, set_name, mode), (r, _) in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][1], [m for m, _ in MODES].index(kv[0][2]) if kv[0][2] in [m for m, _ in MODES] else 9)):
        od = r.get("open_domain", {})
        recall = od.get("recall", {})
        k = od.get("top_k_documents")
        rows.append([model, set_name, mode, r["questions"], fmt(r["exact_match"], 2), fmt(r["f1"], 2),
                     fmt(recall.get("@1", None) and 100 * recall["@1"]) if recall else "",
                     fmt(100 * recall[f"@{k}"]) if recall and f"@{k}" in recall else "",
                     fmt(r["tokens_read"] / max(1, r["questions"]), 0), fmt(r["questions_per_second"], 2),
                     fmt(r["tokens_per_second"], 0), fmt(r["peak_rss_mib"], 0)])
    lines.append(table(["model", "set", "mode", "questions", "EM", "F1", "recall@1", "recall@k read", "tokens/question",
                        "questions/s", "tokens/s", "peak MiB"], rows))
    lines.append("")
    lines.append("EM/F1 are the official scripts' numbers (SQuAD 1.1: evaluate-v1.1.py; KorQuAD 1.0: "
                 "evaluate-v1.0.py, character F1), computed by `longqa eval`. Recall: the question's own "
                 "paragraph (or article) is among the top k retrieved.")
    lines.append("")

    # F1 against the number of tokens read, pooled over the paragraph and whole-article runs.
    by_bin = {}
    for (model, set_name, mode), (_, questions) in runs.items():
        if mode not in ("paragraph", "article"):
            continue
        for q in questions:
            b = next(i for i in range(len(LENGTH_BINS) - 1) if LENGTH_BINS[i] <= q["tokens"] < LENGTH_BINS[i + 1])
            by_bin.setdefault((model, set_name), {}).setdefault(b, []).append(q)
    if by_bin:
        lines.append("F1 and reading time against the tokens a question reads (paragraph and whole-article runs pooled):")
        lines.append("")
        rows = []
        for (model, set_name), bins in sorted(by_bin.items()):
            for b, qs in sorted(bins.items()):
                rows.append([model, set_name, bin_label(LENGTH_BINS[b], LENGTH_BINS[b + 1]), len(qs),
                             fmt(100 * statistics.mean(q["f1"] for q in qs), 1),
                             fmt(statistics.median(q["read_ms"] for q in qs), 0)])
        lines.append(table(["model", "set", "tokens read", "questions", "F1", "median read ms"], rows))
        lines.append("")
    if plots is not None:
        plots_accuracy_latency(plots, by_bin, results)
        lines.append("![F1 against document length](plots/accuracy_vs_length.png)")
        lines.append("![reading time against document length](plots/latency_vs_length.png)")
        lines.append("")
    return "\n".join(lines), runs


def save_plot(plt, fig, ax, path, xlabel, ylabel, title, legend_size=None):
    """Log2 x axis, labels, grid, legend; written as PNG and closed."""
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plots_accuracy_latency(plt, by_bin, results):
    fig, ax = plt.subplots(figsize=(7, 4))
    for (model, set_name), bins in sorted(by_bin.items()):
        xs = [math.sqrt(LENGTH_BINS[b] * min(LENGTH_BINS[b + 1], 65536)) if LENGTH_BINS[b] else 128 for b in sorted(bins)]
        ys = [100 * statistics.mean(q["f1"] for q in bins[b]) for b in sorted(bins)]
        ax.plot(xs, ys, marker="o", label=f"{model} / {set_name}")
    save_plot(plt, fig, ax, os.path.join(results, "plots", "accuracy_vs_length.png"), "tokens read per question", "F1",
              "F1 against document length (paragraph and whole-article runs)")

    fig, ax = plt.subplots(figsize=(7, 4))
    for (model, set_name), bins in sorted(by_bin.items()):
        qs = [q for b in bins.values() for q in b]
        ax.scatter([q["tokens"] for q in qs], [q["read_ms"] for q in qs], s=4, alpha=0.4, label=f"{model} / {set_name}")
    for path in sorted(glob.glob(os.path.join(results, "reader_length_*.json"))):
        r = load(path)
        ax.plot([row["tokens"] for row in r["rows"]], [row["median_ms"] for row in r["rows"]], marker="s",
                label=f"reader_length_bench: {os.path.basename(r['model']['path'])}")
    ax.set_yscale("log")
    save_plot(plt, fig, ax, os.path.join(results, "plots", "latency_vs_length.png"), "tokens read", "ms (CPU)",
              "Reading time against document length", legend_size=7)


def length_section(results, plt):
    files = sorted(glob.glob(os.path.join(results, "reader_length_*.json")))
    if not files:
        return ""
    lines = ["## Reader latency and memory against document length (`reader_length_bench`)", ""]
    rows = []
    for path in files:
        r = load(path)
        m = r["model"]
        for row in r["rows"]:
            rows.append([os.path.basename(m["path"]), m["model_type"], f"{m['max_window_tokens']:,}", f"{row['tokens']:,}",
                         fmt(row["median_ms"], 0), fmt(row["tokens_per_second"], 0), fmt(row["peak_rss_mib"], 0)])
    machine = load(files[0])["machine"]
    lines.append(f"CPU, {machine['threads']} threads, float32, `Reader::read` end to end on real text, median of "
                 f"{load(files[0])['reps']}; peak memory is the process's resident peak so far.")
    lines.append("")
    lines.append(table(["model", "type", "window", "tokens", "ms", "tokens/s", "peak MiB"], rows))
    lines.append("")
    if plt is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        for path in files:
            r = load(path)
            ax.plot([row["tokens"] for row in r["rows"]], [row["peak_rss_mib"] for row in r["rows"]], marker="o",
                    label=os.path.basename(r["model"]["path"]))
        save_plot(plt, fig, ax, os.path.join(results, "plots", "memory_vs_length.png"), "document tokens",
                  "peak resident MiB", "Reader memory against document length (CPU)")
        lines.append("![memory against document length](plots/memory_vs_length.png)")
        lines.append("")
    return "\n".join(lines)


def retriever_section(results):
    r = load_result(results, "retriever_recall.json")
    if r is None:
        return ""
    rows = []
    for s in r["datasets"]:
        for row in s["rows"]:
            rc = row["recall"]
            rows.append([s["name"], row["method"], row["bm25_tokenization"]] +
                        [fmt(100 * rc[k]) for k in ("paragraph@1", "paragraph@5", "paragraph@20", "article@1",
                                                     "article@5", "article@20")] + [fmt(row["questions_per_second"], 0)])
    return "\n".join(["## Retrieval recall (`retriever_recall_bench`, every paragraph of the public dev halves)", "",
                      table(["set", "method", "BM25 terms", "para@1", "para@5", "para@20", "article@1", "article@5",
                             "article@20", "q/s"], rows), ""])


def faiss_section(results):
    r = load_result(results, "faiss_speed.json")
    if r is None:
        return ""
    rows = []
    for row in r["rows"]:
        rows.append([f"{row['vectors']:,}", row["factory"], fmt(row["ours_build"]["per_second"], 0),
                     fmt(row["raw_build"]["per_second"], 0), fmt(row["ours_single_search"]["median_ms"], 2),
                     fmt(row["raw_single_search"]["median_ms"], 2), fmt(row["ours_batch_search"]["per_second"], 0),
                     fmt(row["raw_batch_search"]["per_second"], 0), fmt(row["ours_recall_at_10"], 3)])
    return "\n".join(["## Dense index speed against raw FAISS (`faiss_speed_bench`, 384-d synthetic vectors)", "",
                      table(["vectors", "factory", "build/s (ours)", "build/s (raw)", "search ms (ours)",
                             "search ms (raw)", "batch q/s (ours)", "batch q/s (raw)", "recall@10"], rows),
                      "", "Ours = `Index::add_encoded` (docstore rows + FAISS add) + an atomic commit; raw = the same "
                      "FAISS index alone.", ""])


def server_section(results):
    out = []
    r = load_result(results, "server_load.json")
    if r is not None:
        rows = [[x["endpoint"], "on" if x["batching"] else "off", x["clients"], x["requests"],
                 fmt(x["throughput_rps"], 2), fmt(x["p50_ms"], 0), fmt(x["p99_ms"], 0),
                 ", ".join(f"{k}: {v}" for k, v in x["statuses"].items())] for x in r["results"]]
        out += ["## HTTP server load (`bench/server_load_bench.py`)", "",
                f"Reader: {r.get('reader_weights', '')} {r['reader']['model_type']} "
                f"({r['reader']['num_hidden_layers']} layers, hidden {r['reader']['hidden_size']}), "
                f"{r['documents']} documents of {r['context_chars']} characters, device {r['device']}.", "",
                table(["endpoint", "batching", "clients", "requests", "req/s", "p50 ms", "p99 ms", "statuses"], rows), ""]
    r = load_result(results, "robustness.json")
    if r is not None:
        out += ["## HTTP server robustness (`scripts/robustness_check.py`)", "",
                f"- schemathesis: {r['schemathesis']['test_cases']} cases, exit {r['schemathesis']['exit_code']}, "
                f"statuses {r['schemathesis']['statuses']}",
                f"- malformed HTTP: {r['malformed_http']['sent']} requests, statuses {r['malformed_http']['statuses']}",
                f"- slow clients: {r['slow_clients']['slow_clients']} cut off after at most "
                f"{r['slow_clients']['cut_off_after_s_max']} s; health meanwhile all 200: {r['slow_clients']['health_all_200']}",
                f"- oversized: {r['oversized']}",
                f"- random JSON bodies: {r['random_bodies']['bodies']}, statuses {r['random_bodies']['statuses']}",
                f"- afterwards: {r['after']}; exit code on SIGTERM {r['exit_code_on_sigterm']}; "
                f"problems: {r['problems'] or 'none'}", ""]
    return "\n".join(out)


def kernels_section(results):
    out = []
    r = load_result(results, "attention_cpu.json")
    if r is not None:
        fused = any("fused_ms" in x for x in r["results"])
        rows = []
        for x in r["results"]:
            row = [f"{x['n']:,}"] + ([fmt(x.get("fused_ms"))] if fused else [])
            row += [fmt(x.get("blocked_ms")), fmt(x.get("reference_ms")) if x.get("reference_ms") else "skipped"]
            if fused:
                row.append(fmt(x["blocked_ms"] / x["fused_ms"]) + "×" if x.get("fused_ms") and x.get("blocked_ms") else "")
            else:
                row.append(fmt(x["reference_ms"] / x["blocked_ms"]) + "×" if x.get("reference_ms") else "")
            rows.append(row)
        header = (["n", "fused ms", "blocked ms", "dense reference ms", "fused vs blocked"] if fused
                  else ["n", "blocked ms", "dense reference ms", "speed-up"])
        shape = r.get("shape", {})
        out += ["## LittleBird attention on the CPU (`attention_bench`)", "",
                f"float32, {r['machine']['torch_threads']} thread(s), B=1 H={shape.get('H', 12)} dh={shape.get('dh', 64)} "
                f"b={shape.get('block_size', 64)} s={shape.get('packed', 64)}.", "",
                table(header, rows), ""]
    r = load_result(results, "linear_cpu.json")
    if r is not None:
        rows = [[f"{x['tokens']:,}", f"{x['in']}→{x['out']}", fmt(x["aten_fp32_ms"], 2), fmt(x["openblas_ms"], 2),
                 fmt(x["aten_bf16_ms"], 2), fmt(x["openblas_gflops"], 0)] for x in r["rows"]]
        out += ["## The CPU linear layer (`linear_bench`)", "",
                f"{r['threads']} threads: at::linear (MKL sgemm) against the reader's OpenBLAS sgemm in OpenMP row "
                "ranges (`reader/blas_linear.cpp`), and bfloat16 at::linear (oneDNN).", "",
                table(["tokens", "shape", "at::linear fp32 ms", "OpenBLAS fp32 ms", "at::linear bf16 ms",
                       "OpenBLAS GFLOP/s"], rows), ""]
    return "\n".join(out)


def cpu_race_section(results, plt):
    r = load_result(results, "cpu_race.json")
    if r is None:
        return ""
    models = []
    for x in r["results"]:
        if x["model"] not in models:
            models.append(x["model"])
    lengths = sorted({x["n"] for x in r["results"]})
    cell = {(x["model"], x["n"]): x for x in r["results"]}
    rows = []
    for n in lengths:
        row = [f"{n:,}"]
        for m in models:
            x = cell.get((m, n))
            if x is None:
                row.append("")
            elif x["status"] == "ok":
                row.append(f"{fmt(x['ms'], 0)} ({x['peak_mib'] / 1024:.2f} GB)")
            else:
                row.append("—" if x["status"].startswith("skipped") else x["status"][:40])
        rows.append(row)
    m = r["machine"]
    lines = ["## longqa against the transformers peers on the CPU (`bench/cpu_race.py`)", "",
             f"One run, {m['threads']} threads, {m['cpu']}, torch {m['torch']}, transformers {m['transformers']}; "
             "every model has default-en's size (6 layers, hidden 384, 12 heads, FFN 1536). longqa: `Reader::read` "
             "end to end with models/default-en, one window; peers: random weights, forward only. "
             "ms per document (peak resident memory); — = skipped (too slow for the run's deadline).", "",
             table(["tokens"] + models, rows), ""]
    summary = r.get("summary", {})
    for dtype in ("float32", "bfloat16", "int8"):
        s = summary.get(f"longqa {dtype}", {})
        sp = s.get("speedup_over_fastest_peer", {})
        if sp:
            lines.append(f"- longqa {dtype} against the fastest peer: " + ", ".join(
                f"{int(n):,}: {v['speedup']:.2f}× ({v['fastest_peer']})" for n, v in sorted(sp.items(), key=lambda kv: int(kv[0]))))
        for key in ("time_32k_over_4k", "time_64k_over_8k"):
            if key in s:
                lines.append(f"  - {key.replace('_', ' ')}: {s[key]:.2f}")
    for key in ("bfloat16_speedup_at_4k", "bfloat16_speedup_at_16k", "int8_speedup_at_4k", "int8_speedup_at_16k",
                "longqa_float32_peak_mib_at_64k"):
        if key in summary:
            lines.append(f"- {key.replace('_', ' ')}: {fmt(summary[key], 2)}")
    if os.path.exists(os.path.join(results, "plots", "cpu_race.png")):
        lines += ["", "![CPU race](plots/cpu_race.png)"]
    return "\n".join(lines) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(root, "bench", "results"))
    ap.add_argument("--readme", help="also put the sections into this file between its report markers")
    args = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        os.makedirs(os.path.join(args.results, "plots"), exist_ok=True)
    except ImportError:
        plt = None
        print("matplotlib not found: tables only (bash scripts/install_deps.sh installs it into .venv)")
    evals, _ = eval_section(args.results, plt)
    sections = [evals, length_section(args.results, plt), retriever_section(args.results),
                faiss_section(args.results), server_section(args.results), cpu_race_section(args.results, plt),
                kernels_section(args.results)]
    body = "\n".join(p for p in sections if p)
    write_atomically(os.path.join(args.results, "REPORT.md"), "\n".join([
        "# longqa benchmark report", "",
        "Made by `bench/make_report.py` from the JSON files in `bench/results/`; each section names the "
        "program that measured it. CPU numbers come from a 2-core VM.", "", body]) + "\n")
    if args.readme:
        put_into_readme(args.readme, body, os.path.relpath(args.results, os.path.dirname(os.path.abspath(args.readme))))


def write_atomically(path, text):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    print("wrote", path)


def put_into_readme(readme, body, results_from_readme):
    begin, end = "<!-- report:begin -->", "<!-- report:end -->"
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise SystemExit(f"{readme}: needs one '{begin}' line followed by one '{end}' line")
    lines = ["#" + line if line.startswith("## ") else line for line in body.split("\n")]
    section = "\n".join(lines).replace("](plots/", f"]({results_from_readme}/plots/")
    head, rest = text.split(begin, 1)
    write_atomically(readme, head + begin + "\n\n" + section.strip() + "\n\n" + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    main()
