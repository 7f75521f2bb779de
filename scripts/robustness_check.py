#!/usr/bin/env python3
"""Robustness run of `longqa serve` (not part of ctest: it installs schemathesis from PyPI).

Starts the built server with tiny random models and an index on a loopback ephemeral port,
then throws at it:
  1. schemathesis against its /openapi.json (every check: no 5xx, documented statuses,
     content types and headers, response schemas, invalid data rejected, valid data accepted);
  2. malformed HTTP: broken request lines, headers and framing, plus random bytes;
  3. slow clients: connections trickling a request a byte at a time;
  4. oversized headers and bodies, declared and sent;
  5. random JSON bodies (10 000 by default) to every POST endpoint.
The server must stay up, never answer 5xx, answer correctly afterwards and exit 0 on SIGTERM.

usage: .venv/bin/python scripts/robustness_check.py [--longqa build/cli/longqa] [--bodies 10000]
"""
import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_server(binary, work):
    vocab = os.path.join(ROOT, "models", "vocab", "kobigbird", "vocab.txt")
    configs = {
        "reader": {"model_type": "littlebird", "vocab_size": 32500, "hidden_size": 32, "num_hidden_layers": 1,
                   "num_attention_heads": 4, "intermediate_size": 64, "block_size": 16, "pack_size": 8,
                   "max_seq_length": 512},
        "encoder": {"model_type": "bert", "vocab_size": 32500, "hidden_size": 32, "num_hidden_layers": 1,
                    "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 128},
    }
    for name, config in configs.items():
        with open(os.path.join(work, name + ".json"), "w") as f:
            json.dump(config, f)
        subprocess.run([binary, "model", "init", "--config", os.path.join(work, name + ".json"), "--vocab", vocab,
                        "--out", os.path.join(work, name)], check=True, stdout=subprocess.DEVNULL)
    log_path = os.path.join(work, "serve.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([binary, "serve", "--port", "0", "--reader", os.path.join(work, "reader"),
                             "--index", os.path.join(work, "index"), "--encoder", os.path.join(work, "encoder"),
                             "--read-timeout-s", "2", "--idle-timeout-s", "5", "--max-body-bytes", "1048576",
                             "--max-header-bytes", "8192", "--queue-capacity", "256"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    port = None
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("server exited:\n" + open(log_path).read())
        m = re.search(r"listening on http://[^:]+:(\d+)", open(log_path).read())
        if m:
            port = int(m.group(1))
            try:
                if request(port, "GET", "/health")[0] == 200:
                    return proc, port, log_path
            except OSError:
                pass
        time.sleep(0.1)
    sys.exit("server not ready:\n" + open(log_path).read())


def request(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body is not None else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def raw_exchange(port, payload, wait=3.0, trickle=None):
    """Sends raw bytes; returns (status or None, seconds until the server closed or answered)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    start = time.time()
    data = b""
    try:
        if trickle:
            for i in range(len(payload)):
                s.sendall(payload[i:i + 1])
                time.sleep(trickle)
        else:
            s.sendall(payload)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                break
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(m.group(1)) if m else None), time.time() - start


def schemathesis_phase(port, examples, work):
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "schemathesis"], check=True)
    exe = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    report = os.path.join(work, "schemathesis.json")
    cmd = [exe, "run", f"http://127.0.0.1:{port}/openapi.json", "--checks", "all", "-n", str(examples),
           "--workers", "2", "--no-color", "--request-timeout", "60", "--seed", "1", "--report", "ndjson",
           "--report-ndjson-path", report]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=work)  # its caches stay out of the checkout
    summary = out.stdout[out.stdout.rfind("SUMMARY"):] if "SUMMARY" in out.stdout else out.stdout[-3000:]
    generated = re.search(r"(\d+) generated", out.stdout)
    statuses = {}
    if os.path.exists(report):
        for line in open(report):
            for code in re.findall(r'"status_code":\s*(\d{3})', line):
                statuses[code] = statuses.get(code, 0) + 1
    return {"exit_code": out.returncode, "test_cases": int(generated.group(1)) if generated else None,
            "statuses": statuses, "summary": summary.strip()}


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /health\r\n\r\n",
    b"GET /health HTTP/9.9\r\n\r\n",
    b"GET /health HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"GET /health HTTP/1.1\r\n: empty name\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /health HTTP/1.1\r\nX: \x00\x01\x02\r\n\r\n",
    b"POST /v1/read HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /v1/read HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/read HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"POST /v1/read HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /v1/read HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",
    b"POST /v1/read HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
    b"POST /v1/read HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST /v1/read HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /v1/read HTTP/1.1\r\nContent-Length: 4\r\n\r\nnull",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\n\r\n",
    b"GET http://example.com/health HTTP/1.1\r\n\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\n\r\n",
    b"GET /v1/documents/%00 HTTP/1.1\r\n\r\n",
    b"GET /v1/documents/%zz HTTP/1.1\r\n\r\n",
    b"DELETE /v1/documents/ HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
    b"\r\n\r\n\r\n",
    b"GET /health HTTP/1.1\n\n",
    b"G\xc3\x28T /health HTTP/1.1\r\n\r\n",
]


def malformed_phase(port, rng, random_blobs):
    results = {"sent": 0, "statuses": {}, "closed_without_answer": 0}

    def record(status):
        results["sent"] += 1
        if status is None:
            results["closed_without_answer"] += 1
        else:
            results["statuses"][str(status)] = results["statuses"].get(str(status), 0) + 1

    for payload in MALFORMED:
        record(raw_exchange(port, payload)[0])
    prefixes = [b"", b"GET / HTTP/1.1\r\n", b"POST /v1/read HTTP/1.1\r\nContent-Length: 10\r\n"]
    for _ in range(random_blobs):
        blob = rng.choice(prefixes) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
        record(raw_exchange(port, blob + b"\r\n\r\n", wait=3)[0])
    return results


def slow_phase(port, clients=20):
    payload = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    times, lock = [], threading.Lock()

    def slow():
        status, seconds = raw_exchange(port, payload, wait=10, trickle=0.1)
        with lock:
            times.append((status, seconds))

    threads = [threading.Thread(target=slow) for _ in range(clients)]
    for t in threads:
        t.start()
    health = []
    while any(t.is_alive() for t in threads):
        start = time.time()
        health.append((request(port, "GET", "/health")[0], time.time() - start))
        time.sleep(0.2)
    for t in threads:
        t.join()
    return {"slow_clients": clients, "answered": sum(1 for s, _ in times if s is not None),
            "cut_off_after_s_max": round(max(s for _, s in times), 2),
            "health_checks_meanwhile": len(health), "health_all_200": all(s == 200 for s, _ in health),
            "health_latency_max_ms": round(max(t for _, t in health) * 1e3, 1)}


def oversized_phase(port):
    cases = {
        "header 100 KB": b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
        "10000 headers": b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(10000)) + b"\r\n",
        "target 100 KB": b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
        "declared body 2 MB": b"POST /v1/read HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n",
        "sent body 2 MB": b"POST /v1/read HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n" + b"{" + b" " * 2097151,
        "chunked body 2 MB": b"POST /v1/read HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             b"".join(b"10000\r\n" + b" " * 0x10000 + b"\r\n" for _ in range(32)) + b"0\r\n\r\n",
    }
    return {name: raw_exchange(port, payload, wait=10)[0] for name, payload in cases.items()}


FIELDS = ["question", "context", "contexts", "top_k_answers", "top_k_documents", "top_k", "documents", "id", "title",
          "text", "metadata", "extra", ""]


def random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 1, -1, 3, 20, 21, 101, 2**31, -2**63, 2**64, rng.randrange(-10**6, 10**6)])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e308, 3.0, float(rng.random())])
    if kind in (4, 5):
        alphabet = "abc w1 w2 alpha omega 가나다 é \u0000\u2028\ud7ff\U0001F600\"\\/\n\t"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
    if kind in (6, 7):
        return {rng.choice(FIELDS): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]


POST_ENDPOINTS = ["/v1/read", "/v1/ask", "/v1/retrieve", "/v1/documents"]


def random_text(rng, n):
    alphabet = "abc w1 w2 alpha omega 가나다 é \u0000\u2028\U0001F600\"\\\n\t"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, n)))


def valid_body(rng):
    return rng.choice([
        ("/v1/read", {"question": random_text(rng, 50), "context": random_text(rng, 2000),
                      "top_k_answers": rng.randrange(1, 21)}),
        ("/v1/read", {"question": random_text(rng, 50), "contexts": [random_text(rng, 500) for _ in range(rng.randrange(1, 4))]}),
        ("/v1/ask", {"question": random_text(rng, 50), "top_k_documents": rng.randrange(1, 5)}),
        ("/v1/retrieve", {"question": random_text(rng, 50), "top_k": rng.randrange(1, 101)}),
        ("/v1/documents", {"documents": [{"id": random_text(rng, 10), "text": random_text(rng, 1000), "metadata": {"n": 1}}]}),
    ])


def request_shaped(rng):
    body = {"question": random_value(rng)}
    for key in rng.sample(FIELDS, rng.randrange(0, 4)):
        body[key] = random_value(rng)
    if rng.random() < 0.3:
        body["documents"] = [{"id": random_value(rng), "text": random_value(rng)} for _ in range(rng.randrange(0, 3))]
    return body


def random_body(rng):
    """(endpoint, bytes): 30% valid for their endpoint (so the reader and the index run too),
    30% shaped like a request with random values, 40% any JSON; then a tenth of them broken."""
    roll = rng.random()
    if roll < 0.3:
        endpoint, body = valid_body(rng)
    else:
        endpoint = rng.choice(POST_ENDPOINTS)
        body = request_shaped(rng) if roll < 0.6 else random_value(rng)
    data = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    if rng.random() < 0.1 and data:  # cut short, or an invalid byte
        data = data[:rng.randrange(len(data))] if rng.random() < 0.5 else data + bytes([rng.choice([0x80, 0xC3, 0xFF])])
    return endpoint, data


def random_bodies_phase(port, rng, count, threads=4):
    statuses, lock = {}, threading.Lock()
    bodies = [random_body(rng) for _ in range(count)]

    def worker(part):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for endpoint, body in part:
            try:
                conn.request("POST", endpoint, body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                status = r.status
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (http.client.HTTPException, OSError):
                status = "connection error"
                conn.close()
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1

    parts = [bodies[i::threads] for i in range(threads)]
    ts = [threading.Thread(target=worker, args=(p,)) for p in parts]
    start = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"bodies": count, "seconds": round(time.time() - start, 1), "statuses": dict(sorted(statuses.items()))}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--longqa", default=os.path.join(ROOT, "build", "cli", "longqa"))
    p.add_argument("--examples", type=int, default=100, help="schemathesis examples per operation")
    p.add_argument("--blobs", type=int, default=500, help="random-byte requests")
    p.add_argument("--bodies", type=int, default=10000, help="random JSON bodies")
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    rng = random.Random(1)
    work = tempfile.mkdtemp(prefix="longqa-robustness-")
    proc, port, log_path = start_server(args.longqa, work)
    results = {}
    try:
        request(port, "POST", "/v1/documents", json.dumps({"documents": [  # something to find and delete
            {"id": "doc-1", "title": "Alpha", "text": "The alpha omega w1 w2 w3 가나다 story."},
            {"id": "doc-2", "text": "w5 w6 w7 omega."}]}))
        print("[1/5] schemathesis ...", file=sys.stderr)
        results["schemathesis"] = schemathesis_phase(port, args.examples, work)
        print("[2/5] malformed HTTP ...", file=sys.stderr)
        results["malformed_http"] = malformed_phase(port, rng, args.blobs)
        print("[3/5] slow clients ...", file=sys.stderr)
        results["slow_clients"] = slow_phase(port)
        print("[4/5] oversized ...", file=sys.stderr)
        results["oversized"] = oversized_phase(port)
        print(f"[5/5] {args.bodies} random JSON bodies ...", file=sys.stderr)
        results["random_bodies"] = random_bodies_phase(port, rng, args.bodies)

        # (schemathesis deletes documents it has seen in answers: add one afresh)
        added = request(port, "POST", "/v1/documents", json.dumps({"documents": [{"id": "after", "text": "w9 alpha omega"}]}))[0]
        status, body = request(port, "POST", "/v1/read", json.dumps({"question": "alpha", "context": "w1 alpha w2 omega"}))
        answers = json.loads(body).get("answers", []) if status == 200 else []
        ask_status, ask_body = request(port, "POST", "/v1/ask", json.dumps({"question": "alpha omega"}))
        results["after"] = {"alive": proc.poll() is None, "health": request(port, "GET", "/health")[0],
                            "read_status": status, "read_answers": len(answers), "document_added": added,
                            "document_kept": request(port, "GET", "/v1/documents/after")[0], "ask_status": ask_status,
                            "ask_answers": len(json.loads(ask_body).get("answers", [])) if ask_status == 200 else 0}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            results["exit_code_on_sigterm"] = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            results["exit_code_on_sigterm"] = "hung"

    def five_xx(statuses):
        return sum(v for k, v in statuses.items() if k.startswith("5"))

    problems = []
    if results["schemathesis"]["exit_code"] != 0:
        problems.append("schemathesis found failures")
    for name in ("malformed_http", "random_bodies"):
        if five_xx(results[name]["statuses"]):
            problems.append(f"{name}: 5xx answers")
    if five_xx(results["schemathesis"]["statuses"]):
        problems.append("schemathesis: 5xx answers")
    if any(s is not None and s >= 500 for s in results["oversized"].values()):
        problems.append("oversized: 5xx answers")
    if not results["slow_clients"]["health_all_200"] or results["slow_clients"]["cut_off_after_s_max"] > 5:
        problems.append("slow clients not cut off, or the server stalled")
    after = results["after"]
    if not (after["alive"] and after["health"] == 200 and after["read_status"] == 200 and after["read_answers"] > 0
            and after["document_added"] == 200 and after["document_kept"] == 200 and after["ask_status"] == 200
            and after["ask_answers"] > 0):
        problems.append("the server did not answer correctly afterwards")
    if results["exit_code_on_sigterm"] != 0:
        problems.append(f"exit code on SIGTERM: {results['exit_code_on_sigterm']}")
    results["problems"] = problems

    summary = {k: v for k, v in results.items() if k != "schemathesis"}
    summary["schemathesis"] = {k: v for k, v in results["schemathesis"].items() if k != "summary"}
    print(results["schemathesis"]["summary"])
    print(json.dumps(summary, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    print("OK: no 5xx, the server stayed up and answered correctly" if not problems else "FAILED: " + "; ".join(problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
