#!/usr/bin/env python3
"""Soak and backpressure runs of `longqa serve` on loopback.

Soak: --clients closed-loop clients (each sends its next request when the last is answered,
so together they hold the server at the highest rate it sustains) mix POST /v1/ask, /v1/read,
/v1/retrieve, /v1/documents and DELETE /v1/documents/{id} for --minutes; per minute the
requests, p50/p99 per endpoint and the server's resident memory. Must show: no 5xx, memory
after warm-up (minute 2 to the end) growing less than 10%.

Backpressure: --overload-clients clients hammer /v1/read with a queue of --overload-queue
places for --overload-s seconds: what does not fit must be answered 429 quickly (p99 of the
429s), nothing 5xx, memory bounded; then one client alone must get 200s again (recovery time).

  .venv/bin/python bench/soak.py [--minutes 10] [--clients 8]
Writes bench/results/soak.json. Tiny random models (the server and the index under load, not
the reader); the Python clients share this machine's 2 cores with the server, so the rate is
the pair's, not the server's alone.
"""
import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from serve_harness import DEFAULT_LONGQA, ROOT, Server, percentile, tiny_models  # noqa: E402

WORDS = ("the river city north south bridge king queen war peace river mountain music art school "
         "가나 다라 마바 사아 자차 카타 파하").split()


def text(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words))


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows = []  # (t, endpoint, status, seconds)

    def add(self, *row):
        with self.lock:
            self.rows.append(row)


def client_loop(port, rng, stop, recorder, mix, start, own_ids):
    conn = None
    while not stop.is_set():
        endpoint = rng.choices(list(mix), weights=list(mix.values()))[0]
        if endpoint == "ask":
            method, path, body = "POST", "/v1/ask", {"question": text(rng, 4), "top_k_documents": 2}
        elif endpoint == "read":
            method, path, body = "POST", "/v1/read", {"question": text(rng, 4), "context": text(rng, 300)}
        elif endpoint == "retrieve":
            method, path, body = "POST", "/v1/retrieve", {"question": text(rng, 4), "top_k": 5}
        elif endpoint == "add":
            doc_id = rng.choice(own_ids)
            method, path, body = "POST", "/v1/documents", {"documents": [{"id": doc_id, "text": text(rng, 120)}]}
        else:
            method, path, body = "DELETE", "/v1/documents/" + rng.choice(own_ids), None
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = -1
            conn = None
        recorder.add(time.perf_counter() - start, endpoint, status, time.perf_counter() - t0)


def soak(args, server, rng):
    mix = {"ask": 3, "read": 3, "retrieve": 2, "add": 1.2, "delete": 0.8}
    recorder, stop = Recorder(), threading.Event()
    start = time.perf_counter()
    threads = [threading.Thread(target=client_loop, daemon=True,
                                args=(server.port, random.Random(i), stop, recorder, mix, start,
                                      [f"soak-{i}-{k}" for k in range(50)]))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    minutes = []
    for minute in range(args.minutes):
        time.sleep(max(0.0, (minute + 1) * 60 - (time.perf_counter() - start)))
        with recorder.lock:
            rows = [r for r in recorder.rows if minute * 60 <= r[0] < (minute + 1) * 60]
        per = {}
        for endpoint in mix:
            lat = [r[3] for r in rows if r[1] == endpoint and r[2] == 200]
            per[endpoint] = {"requests": sum(1 for r in rows if r[1] == endpoint),
                             "p50_ms": round(percentile(lat, 0.5) * 1e3, 1), "p99_ms": round(percentile(lat, 0.99) * 1e3, 1)}
        statuses = {}
        for r in rows:
            statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
        row = {"minute": minute + 1, "requests": len(rows), "rate_rps": round(len(rows) / 60, 1), "statuses": statuses,
               "rss_mib": round(server.rss_mib(), 1), "endpoints": per}
        minutes.append(row)
        print(json.dumps({k: row[k] for k in ("minute", "rate_rps", "statuses", "rss_mib")}), flush=True)
    stop.set()
    for t in threads:
        t.join()
    errors = sum(v for m in minutes for k, v in m["statuses"].items() if k.startswith("5") or k == "-1")
    warm = minutes[1]["rss_mib"] if len(minutes) > 1 else minutes[0]["rss_mib"]
    growth = (minutes[-1]["rss_mib"] - warm) / warm
    return {"clients": args.clients, "minutes": args.minutes, "mix": mix,
            "requests": sum(m["requests"] for m in minutes), "rate_rps": round(sum(m["requests"] for m in minutes) / (60 * len(minutes)), 1),
            "errors_5xx_or_failed": errors, "rss_growth_after_warmup": round(growth, 4), "per_minute": minutes}


def backpressure(args, longqa, flags, work):
    server = Server(longqa, flags + ["--queue-capacity", str(args.overload_queue), "--workers", "1"],
                    os.path.join(work, "overload.log"))
    recorder, stop = Recorder(), threading.Event()
    start = time.perf_counter()
    rss = []
    threads = [threading.Thread(target=client_loop, daemon=True,
                                args=(server.port, random.Random(100 + i), stop, recorder, {"read": 1}, start, ["x"]))
               for i in range(args.overload_clients)]
    for t in threads:
        t.start()
    while time.perf_counter() - start < args.overload_s:
        time.sleep(1)
        rss.append(server.rss_mib())
    stop.set()
    for t in threads:
        t.join()
    rows = recorder.rows
    statuses = {}
    for r in rows:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    refused = [r[3] for r in rows if r[2] == 429]
    served = [r[3] for r in rows if r[2] == 200]
    # Recovery: the first 200 to a lone client after the storm.
    t0 = time.perf_counter()
    recovered = None
    while time.perf_counter() - t0 < 60:
        if server.request("POST", "/v1/read", {"question": "q", "context": "a context"})[0] == 200:
            recovered = time.perf_counter() - t0
            break
        time.sleep(0.05)
    code = server.stop()
    return {"clients": args.overload_clients, "queue_capacity": args.overload_queue, "seconds": args.overload_s,
            "statuses": statuses, "refused_429_p50_ms": round(percentile(refused, 0.5) * 1e3, 2),
            "refused_429_p99_ms": round(percentile(refused, 0.99) * 1e3, 2),
            "served_200_p50_ms": round(percentile(served, 0.5) * 1e3, 1), "served_200_p99_ms": round(percentile(served, 0.99) * 1e3, 1),
            "errors_5xx_or_failed": sum(v for k, v in statuses.items() if k.startswith("5") or k == "-1"),
            "rss_mib_min_max": [round(min(rss), 1), round(max(rss), 1)] if rss else None,
            "recovery_seconds": recovered, "exit_code": code}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--longqa", default=DEFAULT_LONGQA)
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--overload-clients", type=int, default=64)
    ap.add_argument("--overload-queue", type=int, default=8)
    ap.add_argument("--overload-s", type=float, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "soak.json"))
    args = ap.parse_args()
    rng = random.Random(7)
    work = tempfile.mkdtemp(prefix="longqa-soak-")
    reader, encoder = tiny_models(args.longqa, work, reader_layers=2, reader_hidden=64)
    flags = ["--reader", reader, "--index", os.path.join(work, "index"), "--encoder", encoder, "--workers", "2",
             "--queue-capacity", "256"]
    server = Server(args.longqa, flags, os.path.join(work, "serve.log"))
    for i in range(0, 400, 50):  # a corpus to ask over
        status, body = server.request("POST", "/v1/documents",
                                      {"documents": [{"id": f"base-{k}", "text": text(rng, 200)} for k in range(i, i + 50)]})
        assert status == 200, body
    result = {"benchmark": "soak", "what": __doc__.split("\n\n")[0], "machine": {"cores": os.cpu_count()},
              "soak": soak(args, server, rng)}
    result["soak"]["exit_code"] = server.stop()
    result["backpressure"] = backpressure(args, args.longqa, flags[:6], work)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    s, b = result["soak"], result["backpressure"]
    print(f"soak: {s['requests']} requests at {s['rate_rps']}/s, {s['errors_5xx_or_failed']} 5xx/failed, "
          f"RSS growth after warm-up {s['rss_growth_after_warmup']:.1%}; backpressure: {b['statuses']}, "
          f"429 p99 {b['refused_429_p99_ms']} ms, recovered in {b['recovery_seconds']} s; written to {args.out}")
    ok = s["errors_5xx_or_failed"] == 0 and s["rss_growth_after_warmup"] < 0.10 and b["errors_5xx_or_failed"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
