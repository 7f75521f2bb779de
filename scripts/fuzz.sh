#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang with ASan + UBSan) into build-fuzz/ and runs them.
#   bash scripts/fuzz.sh                  each harness 10M executions or 30 minutes, 2 at a time;
#                                         summary in bench/results/fuzz.json
#   bash scripts/fuzz.sh --smoke          60 s each (the test command); summary in build-fuzz/smoke.json
#   bash scripts/fuzz.sh [--only wordpiece,http_request] [--seconds S] [--runs N] [--out FILE]
# A crash, leak or sanitizer report fails the run; the input is in build-fuzz/findings/<harness>/.
# Installs clang and its libFuzzer/sanitizer runtimes from Debian when missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
args=(--out "$root/bench/results/fuzz.json")
if [ "${1:-}" = "--smoke" ]; then
  shift
  args=(--seconds 60 --out "$root/build-fuzz/smoke.json")
fi
missing=()
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
cmake -S fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
cmake --build build-fuzz -j"${LONGQA_JOBS:-2}"
python3 fuzz/run.py --build build-fuzz "${args[@]}" "$@"
