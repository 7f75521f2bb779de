#!/usr/bin/env bash
# Builds longqa under a sanitizer, in a folder of its own, and runs tests there.
#   bash scripts/sanitize.sh address [ctest args]  ASan + UBSan (halting on the first report),
#                                                  every ctest entry; build-asan/
#   bash scripts/sanitize.sh thread  [ctest args]  TSan: the server, its work queue and the HTTP
#                                                  tests (test_server); build-tsan/
#   bash scripts/sanitize.sh torch-free            ASan + UBSan, the tests that need no libtorch
#                                                  (tokenizers, metrics and datasets): minutes, not an hour
# libtorch, OpenBLAS and libgomp are not instrumented: their reports are suppressed by library
# (scripts/sanitizers/*.supp); everything of ours is checked. Needs the deps of scripts/build.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
kind="${1:?usage: sanitize.sh address|thread [ctest args]}"
shift
bash scripts/install_deps.sh >/dev/null
venv="${LONGQA_VENV:-$root/.venv}"
case "$kind" in
  address|torch-free)
    dir=build-asan
    flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/scripts/sanitizers/ubsan.supp"
    export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers/lsan.supp:print_suppressions=0"
    targets=(all)
    tests=()
    if [ "$kind" = torch-free ]; then
      dir=build-asan-torch-free
      targets=(test_tokenizer test_tokenizer_hf test_tokenizer_json test_eval)
      tests=(-R '^(test_tokenizer|test_tokenizer_hf|test_tokenizer_json|test_eval|test_eval_shared-data)$')
    fi
    ;;
  thread)
    dir=build-tsan
    flags="-fsanitize=thread -fno-omit-frame-pointer"
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/sanitizers/tsan.supp"
    # One OpenMP thread: libgomp's barriers are invisible to TSan, so its workers reading a
    # region's shared variables look like races; the server's own threads are what is checked.
    export OMP_NUM_THREADS=1
    targets=(test_server longqa)
    tests=(-R '^test_server$')
    ;;
  *) echo "unknown sanitizer '$kind' (address, thread or torch-free)" >&2; exit 2 ;;
esac
# Sanitizer runtimes are linked first; torch's CUDA kernels are not built (nvcc is not one of ours to instrument).
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
  -DLONGQA_BUILD_BENCH=OFF -DLONGQA_PYTHON="$venv/bin/python" >/dev/null
cmake --build "$dir" -j"${LONGQA_JOBS:-2}" --target "${targets[@]}"
(cd "$dir" && ctest --output-on-failure --timeout 3600 "${tests[@]}" "$@")
echo "== $kind sanitizer: clean"
