#!/usr/bin/env bash
# Builds and tests longqa on the GPU machine (H100/H200: nvcc 13, PyTorch 2.11+cu130 in the
# system python3, no package registry), then runs the GPU benchmarks.
#
# Debian packages come as .deb files made here by scripts/fetch_gpu_debs.sh (.debs/, carried
# to the machine) and are unpacked with dpkg-deb -x into a prefix (default /opt/debs), never
# into /; CMake, the compiler, pkg-config and the loader are pointed at it.
#
# Usage: scripts/gpu_build_and_test.sh [STAGE...]    stages, in order (default: all of them)
#   deps       unpack .debs/*.deb into $LONGQA_DEB_PREFIX and fix their absolute paths
#   configure  cmake -DLONGQA_CUDA=ON into $LONGQA_BUILD_DIR (default build-gpu)
#   build      cmake --build -j$LONGQA_JOBS (default 16)
#   test       ctest, everything including the gpu label (LONGQA_REQUIRE_GPU=1)
#   bench      attention_cuda_bench, then bench/flex_attention_bench.py, then the plot
# Each stage sources the same environment, so stages can run in separate calls on a machine
# that keeps the build directory. Logs go to $build/logs, packed at exit into
# $OUT/gpu_logs.tar.gz next to the benchmark JSON and PNG (few files: $OUT returns at most 8).
# Environment: LONGQA_PYTHON (default: python3 on PATH), LONGQA_CUDA_ARCHS (default 90),
# LONGQA_BUILD_TARGETS (e.g. "test_attention_cuda attention_cuda_bench": only those),
# LONGQA_CTEST_ARGS (e.g. "-R attention"), LONGQA_BENCH_ARGS (e.g. --quick), LONGQA_FLEX_ARGS,
# LONGQA_DEB_PREFIX (default /opt/debs; somewhere writable when not root).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

prefix="${LONGQA_DEB_PREFIX:-/opt/debs}"
build="${LONGQA_BUILD_DIR:-$root/build-gpu}"
jobs="${LONGQA_JOBS:-16}"
out="${OUT:-$build/out}"
logs="$build/logs"
usr="$prefix/usr"
arch_lib="$usr/lib/x86_64-linux-gnu"
mkdir -p "$out" "$logs"

log() { echo "[gpu_build_and_test] $*"; }

stage_deps() {
  local debs=("$root"/.debs/*.deb)
  [ -e "${debs[0]}" ] || { log "no .debs/*.deb: run scripts/fetch_gpu_debs.sh where apt works, carry .debs"; exit 1; }
  mkdir -p "$prefix"
  for f in "${debs[@]}"; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$f" "$prefix"
    else  # a .deb is an ar archive holding data.tar.*
      local tmp; tmp="$(mktemp -d)"
      (cd "$tmp" && ar x "$f" && tar -xf data.tar.* -C "$prefix")
      rm -rf "$tmp"
    fi
  done
  # pkg-config files name /usr: point them at the prefix (both ${prefix}-style and absolute).
  local pc
  for pc in $(find "$usr" -name '*.pc'); do
    sed -i -E "s#^prefix=/usr\$#prefix=$usr#; s#=/usr/#=$usr/#g" "$pc"
  done
  # faiss's exported target links /usr/lib/x86_64-linux-gnu/lib{blas,lapack}.so, which are
  # Debian alternatives symlinks (not in any .deb): use openblas-pthread's copies directly.
  sed -i "s#/usr/lib/x86_64-linux-gnu/libblas.so#$arch_lib/openblas-pthread/libblas.so#g; \
          s#/usr/lib/x86_64-linux-gnu/liblapack.so#$arch_lib/openblas-pthread/liblapack.so#g" \
      "$arch_lib/cmake/faiss/faiss-targets.cmake"
  log "unpacked ${#debs[@]} packages into $prefix"
}

# The environment every later stage needs.
setup_env() {
  [ -d "$usr" ] || { log "$usr missing: run the deps stage first"; exit 1; }
  export PATH="$usr/bin:$PATH"
  [ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
  export CMAKE_PREFIX_PATH="$usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export CPATH="$usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$arch_lib:$arch_lib/openblas-pthread${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$arch_lib:$arch_lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$arch_lib/pkgconfig:$usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  if command -v pkg-config >/dev/null; then export PKG_CONFIG="$(command -v pkg-config)"
  else export PKG_CONFIG="$usr/bin/pkgconf"; fi
  python="${LONGQA_PYTHON:-$(command -v python3)}"
}

stage_configure() {
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  log "python: $python ($("$python" -c 'import torch; print(torch.__version__)'))"
  log "torch cmake prefix: $("$python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DLONGQA_PYTHON="$python" -DLONGQA_CUDA=ON -DLONGQA_CUDA_ARCHS="${LONGQA_CUDA_ARCHS:-90}" \
    -DCMAKE_PREFIX_PATH="$usr" -DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG" \
    -DCatch2_DIR="$usr/lib/cmake/Catch2" -Dnlohmann_json_DIR="$usr/share/cmake/nlohmann_json" \
    -Dfaiss_DIR="$arch_lib/cmake/faiss" 2>&1 | tee "$logs/configure.log"
}

stage_build() {
  local targets=()
  for t in ${LONGQA_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
  if ! cmake --build "$build" -j"$jobs" "${targets[@]}" > "$logs/build.log" 2>&1; then
    grep -E -B2 -A8 "error|Error" "$logs/build.log" | head -150
    log "build failed (build.log in the logs)"
    exit 1
  fi
  grep -E "warning: " "$logs/build.log" | sort -u | head -30 || true
  log "built"
}

stage_test() {
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$logs/gpu.txt" 2>&1 || true
  local rc=0
  (cd "$build" && LONGQA_REQUIRE_GPU=1 ctest --output-on-failure --timeout 1800 \
      ${LONGQA_CTEST_ARGS:-} 2>&1 | tee "$logs/ctest.log") || rc=$?
  # The fused kernels' own test, verbose: every case's warnings and timings.
  LONGQA_REQUIRE_GPU=1 "$build/tests/test_attention_cuda" --durations yes 2>&1 \
    | tee "$logs/test_attention_cuda.log" | tail -5 || rc=1
  cp "$build/Testing/Temporary/LastTest.log" "$logs/ctest_last.log" 2>/dev/null || true
  [ "$rc" -eq 0 ] || { log "tests failed"; exit "$rc"; }
}

stage_bench() {
  mkdir -p "$root/bench/results"
  "$build/attention/attention_cuda_bench" ${LONGQA_BENCH_ARGS:-} 2>&1 | tee "$logs/attention_cuda_bench.log"
  PYTHONUNBUFFERED=1 "$python" "$root/bench/flex_attention_bench.py" --check ${LONGQA_FLEX_ARGS:-} 2>&1 \
    | tee "$logs/flex_attention_bench.log" || log "flex benchmark failed (see its log)"
  "$python" "$root/bench/plot_attention.py" || log "no plot (matplotlib missing?); run bench/plot_attention.py elsewhere"
  cp "$root"/bench/results/attention_cuda_*.json "$root"/bench/results/flex_attention_*.json \
     "$root"/bench/results/attention_cuda_*.png "$out/" 2>/dev/null || true
}

pack_outputs() {
  tar -czf "$out/gpu_logs.tar.gz" -C "$build" logs 2>/dev/null || true
}
trap pack_outputs EXIT

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(deps configure build test bench)
for s in "${stages[@]}"; do
  case "$s" in
    deps) stage_deps ;;
    configure|build|test|bench) setup_env; "stage_$s" ;;
    *) echo "unknown stage '$s' (deps configure build test bench)"; exit 2 ;;
  esac
done
log "done: ${stages[*]} (outputs in $out)"
