#!/usr/bin/env python3
"""Crash consistency over HTTP: `longqa serve` SIGKILLed at random moments while clients add
and delete documents, restarted each time and checked.

Each client thread owns its own ids, so the operations on one id are sequential: after each
restart every id must be in the state of the last operation the server acknowledged (200) —
present with exactly the acknowledged text after an add, absent (404) after a delete — unless
a later operation on it was in flight when the server died, in which case either state is
allowed (it was never acknowledged). The index must open every time and answer /v1/retrieve.

  .venv/bin/python bench/crash_consistency.py [--kills 100] [--clients 4]
Writes bench/results/crash_consistency.json. Tiny random models: this measures the server's
and the index's durability, not the reader.
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
from serve_harness import DEFAULT_LONGQA, ROOT, Server, tiny_models  # noqa: E402

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu 가나 다라 마바 사아".split()


class Client(threading.Thread):
    """Adds and deletes its own documents back to back until told to stop; records, per id,
    the last acknowledged state and whether a later operation was left unanswered."""

    def __init__(self, index, ids_per_client, seed):
        super().__init__(daemon=True)
        self.ids = [f"c{index}-d{i}" for i in range(ids_per_client)]
        self.rng = random.Random(seed)
        self.acknowledged = {}  # id -> text, or None for deleted
        self.in_doubt = set()   # ids whose last operation got no answer
        self.port = None
        self.stop_flag = threading.Event()
        self.counts = {"adds": 0, "deletes": 0, "unanswered": 0}

    def run(self):
        conn = None
        while not self.stop_flag.is_set():
            doc_id = self.rng.choice(self.ids)
            delete = self.rng.random() < 0.35 and self.acknowledged.get(doc_id) is not None
            text = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(5, 80))) + f" {doc_id}"
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if delete:
                    conn.request("DELETE", "/v1/documents/" + doc_id)
                else:
                    conn.request("POST", "/v1/documents", body=json.dumps({"documents": [{"id": doc_id, "text": text}]}),
                                 headers={"Content-Type": "application/json"})
                self.in_doubt.add(doc_id)
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    self.acknowledged[doc_id] = None if delete else text
                    self.in_doubt.discard(doc_id)
                    self.counts["deletes" if delete else "adds"] += 1
                else:
                    raise RuntimeError(f"status {r.status} for {'DELETE' if delete else 'add'} {doc_id}")
            except (OSError, http.client.HTTPException):
                self.counts["unanswered"] += 1
                conn = None
                time.sleep(0.01)  # the server is down: wait for the next round
                if self.stop_flag.is_set():
                    break


def verify(server, clients):
    """Violations: ids not in their acknowledged state (ids in doubt may be either)."""
    violations, checked = [], 0
    for c in clients:
        for doc_id, text in c.acknowledged.items():
            status, body = server.request("GET", "/v1/documents/" + doc_id, timeout=60)
            checked += 1
            present = status == 200
            if doc_id in c.in_doubt:
                continue
            if text is None and present:
                violations.append(f"{doc_id}: deleted (acknowledged) but present")
            elif text is not None and not present:
                violations.append(f"{doc_id}: added (acknowledged) but {status}")
            elif text is not None and json.loads(body)["text"] != text:
                violations.append(f"{doc_id}: text is not the acknowledged one")
        c.in_doubt.clear()  # resolved: whatever is there now is the state to keep
        for doc_id in list(c.acknowledged):
            status, body = server.request("GET", "/v1/documents/" + doc_id, timeout=60)
            c.acknowledged[doc_id] = json.loads(body)["text"] if status == 200 else None
    status, _ = server.request("POST", "/v1/retrieve", {"question": "alpha beta", "top_k": 5}, timeout=60)
    if status != 200:
        violations.append(f"/v1/retrieve answered {status}")
    return violations, checked


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--longqa", default=DEFAULT_LONGQA)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--ids-per-client", type=int, default=40)
    ap.add_argument("--min-run-s", type=float, default=0.2, help="shortest time between a restart and the next kill")
    ap.add_argument("--max-run-s", type=float, default=1.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "crash_consistency.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="longqa-crash-")
    reader, encoder = tiny_models(args.longqa, work)
    flags = ["--reader", reader, "--index", os.path.join(work, "index"), "--encoder", encoder,
             "--commit-interval-s", "0.5", "--workers", "2"]
    clients = [Client(i, args.ids_per_client, args.seed * 1000 + i) for i in range(args.clients)]
    rounds, total_violations, restarts_s = [], [], []
    server = Server(args.longqa, flags, os.path.join(work, "serve.log"))
    for c in clients:
        c.port = server.port
        c.start()
    for kill in range(args.kills):
        time.sleep(rng.uniform(args.min_run_s, args.max_run_s))
        server.kill()
        for c in clients:
            c.stop_flag.set()
        for c in clients:
            c.join()
        t0 = time.monotonic()
        server = Server(args.longqa, flags, os.path.join(work, "serve.log"))
        restarts_s.append(time.monotonic() - t0)
        violations, checked = verify(server, clients)
        total_violations += [f"kill {kill + 1}: {v}" for v in violations]
        rounds.append({"kill": kill + 1, "checked": checked, "violations": len(violations), "restart_s": round(restarts_s[-1], 3)})
        print(f"kill {kill + 1}/{args.kills}: {checked} ids checked, {len(violations)} violation(s), restart {restarts_s[-1]:.2f} s",
              flush=True)
        fresh = []
        for c in clients:  # new threads, same ids and knowledge
            n = Client(0, 0, rng.random())
            n.ids, n.acknowledged, n.counts, n.port = c.ids, c.acknowledged, c.counts, server.port
            n.start()
            fresh.append(n)
        clients = fresh
    for c in clients:
        c.stop_flag.set()
    for c in clients:
        c.join()
    code = server.stop()
    counts = {k: sum(c.counts[k] for c in clients) for k in ("adds", "deletes", "unanswered")}
    out = {"benchmark": "crash_consistency", "what": __doc__.split("\n\n")[0],
           "kills": args.kills, "clients": args.clients, "ids": args.clients * args.ids_per_client,
           "acknowledged_adds": counts["adds"], "acknowledged_deletes": counts["deletes"],
           "unanswered_requests": counts["unanswered"], "violations": len(total_violations),
           "violation_examples": total_violations[:20], "index_opened_every_time": len(rounds) == args.kills,
           "restart_seconds_median": sorted(restarts_s)[len(restarts_s) // 2] if restarts_s else None,
           "restart_seconds_max": max(restarts_s) if restarts_s else None, "final_exit_code": code, "rounds": rounds}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"{args.kills} kills: {counts['adds']} acknowledged adds, {counts['deletes']} deletes, "
          f"{len(total_violations)} violation(s); written to {args.out}")
    return 1 if total_violations or code != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
