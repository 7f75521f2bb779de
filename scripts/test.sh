#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test (ctest), installs the
# library and builds and runs the examples/ project against the installed copy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build.sh

echo "== unit and reference tests (ctest)"
(cd build && ctest --output-on-failure --timeout 1200)

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
echo "== all tests passed"
