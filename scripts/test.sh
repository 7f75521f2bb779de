#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test (ctest), installs the
# library and builds and runs the examples/ project against the installed copy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build.sh

echo "== unit and reference tests (ctest)"
(cd build && ctest --output-on-failure --timeout 1200)

echo "== fuzz smoke: each outside-input parser's libFuzzer harness for ${LONGQA_FUZZ_SMOKE_SECONDS:-60} s, ASan + UBSan"
bash scripts/fuzz.sh --smoke --seconds "${LONGQA_FUZZ_SMOKE_SECONDS:-60}"

echo "== install, then build examples/ against the installed library"
cmake --install build >/dev/null
cmake -S examples -B build/examples -DCMAKE_PREFIX_PATH="$root/build/install" >/dev/null
cmake --build build/examples -j"${LONGQA_JOBS:-2}"

echo "== run the example on a randomly initialised model"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
./build/cli/longqa model init --config examples/tiny_littlebird_config.json \
  --vocab models/vocab/kobigbird/vocab.txt --out "$tmp/model" >/dev/null
printf '서울은 대한민국의 수도이다. Seoul is the capital of South Korea.' > "$tmp/doc.txt"
out="$(./build/examples/answer_question "$tmp/model" "What is the capital?" "$tmp/doc.txt")"
echo "$out"
[ "$(echo "$out" | wc -l)" -eq 3 ] || { echo "example printed no answers"; exit 1; }

echo "== the pipeline example: index the sample corpus with MiniLM, ask through longqa::Pipeline"
out="$(./build/examples/ask_corpus "$tmp/model" "$(bash scripts/minilm_dir.sh)" "$tmp/index" \
  "Who won Super Bowl 50?" examples/data/sample_corpus.jsonl)"
echo "$out"
echo "$out" | grep -q '^indexed 8 documents' || { echo "ask_corpus did not index the sample corpus"; exit 1; }
[ "$(echo "$out" | wc -l)" -eq 4 ] || { echo "ask_corpus printed no answers"; exit 1; }
echo "== all tests passed"
