#!/usr/bin/env bash
# The whole GPU check of issue 13 as ONE time-boxed command (about 8 minutes on an H200), plus
# the two things done here for it: packing the binaries it runs, and a dry run without a GPU.
#
#   scripts/gpu_check.sh --pack      here: the binaries from $LONGQA_BUILD_DIR (default build/,
#                                    a LONGQA_CUDA=ON build), stripped, with the runtime libraries
#                                    the GPU machine lacks, into build-gpu-carry/prebuilt.tar.xz
#                                    (~3.5 MiB), and checks that the tree plus it fit the 64 MiB a
#                                    device call sends
#   scripts/gpu_check.sh             on the GPU machine: every stage below, results into $OUT
#   scripts/gpu_check.sh --dry-run   here, no GPU: every stage with tiny sizes on the CPU (ctest
#                                    entry gpu_check_dry_run); the binaries are packed quickly and
#                                    run from the unpacked copy, as on the GPU machine
#   scripts/gpu_check.sh --stages tests,reader   only those stages (setup always runs)
#
# The device call of a GPU session (README, "GPU"): run with carry ["build-gpu-carry"],
# command "bash scripts/gpu_check.sh", timeout_s 600.
#
# Where the binaries come from, first that applies:
#   1. build-gpu-carry/prebuilt.tar.xz (or $LONGQA_PREBUILT): unpacked, nothing compiled. The
#      default: the tree alone is ~60 MiB (models/default-en), so the 27 MB of .debs a source
#      build needs do not fit in a device call (64 MiB); the bundle does.
#   2. $LONGQA_BUILD_DIR holding the binaries (a build made on that machine, or ctest's here).
#   3. .debs/*.deb (scripts/fetch_gpu_debs.sh): unpacked into $LONGQA_DEB_PREFIX, then
#      cmake -DLONGQA_CUDA=ON and only the targets below are built (for a smaller tree).
# The prebuilt binaries link libtorch dynamically and run against the GPU machine's torch (the
# same 2.11+cu130 wheel); utf8proc travels in the bundle; FAISS's BLAS/LAPACK and SQLite are
# stubs that abort if called (the retriever and the index are no part of this check, and
# openblas alone is 6.7 MB).
#
# Stages (budget variables, seconds; each stage runs under `timeout`, and no stage outlives
# T_TOTAL): setup (T_SETUP, or T_BUILD for a source build), env, tests (T_TESTS: the gpu-label
# entries test_attention_cuda_gpu and test_text_encoder_gpu, LONGQA_REQUIRE_GPU=1), kernel
# (T_KERNEL: attention_cuda_bench), flex (T_FLEX: bench/flex_attention_bench.py --check), reader
# (T_READER: bench/reader_race.py), hf (T_HF: scripts/gpu_hf_equivalence.py, bf16/fp16), train
# (T_TRAIN: longqa train-reader --device cuda, bf16, 100 steps on a generated dataset), plot.
# After every stage $OUT holds summary.json (each stage's status, seconds, budget, outputs),
# gpu_check.log (the whole log) and gpu_check.tar.gz (logs/ and results/: every JSON and PNG):
# three files, within the 8 a device call returns.
set -uo pipefail

# ---- time budgets (seconds): about 8 minutes in all on an H200 with 16 cores ----
T_TOTAL="${T_TOTAL:-530}"    # the whole command: stages are cut to what is left of this
T_SETUP="${T_SETUP:-30}"     # unpack the prebuilt bundle
T_BUILD="${T_BUILD:-420}"    # instead, when there is no bundle: .debs, configure, build
T_TESTS="${T_TESTS:-75}"     # GPU tests
T_KERNEL="${T_KERNEL:-100}"  # kernel race: fused vs blocked vs dense SDPA
T_FLEX="${T_FLEX:-65}"       # kernel race: FlexAttention (one compile per shape; FLEX_MIN_N=4096)
T_READER="${T_READER:-125}"  # reader race: BigBird, ModernBERT, LittleBird
T_HF="${T_HF:-45}"           # HF equivalence in bf16/fp16
T_TRAIN="${T_TRAIN:-55}"     # short training run
T_PLOT="${T_PLOT:-20}"       # PNGs

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="$root/scripts/gpu_check.sh"
BINARIES="longqa:cli test_attention_cuda:tests test_text_encoder:tests attention_cuda_bench:attention reader_length_bench:bench"
CUDA_ONLY=" test_attention_cuda attention_cuda_bench "
ALL_STAGES="env tests kernel flex reader hf train plot"

log() { echo "[gpu_check $(date -u +%H:%M:%S)] $*" | tee -a "$GPU_CHECK_WORK/logs/gpu_check.log"; }

# ======================================================================== packing (here)
# pack SRC_BUILD DEST_FILE COMPRESS: stripped binaries + libraries + wrappers, as a tarball.
pack() {
  local build="$1" dest="$2" compress="$3" stage
  stage="$(mktemp -d)"
  mkdir -p "$stage/real" "$stage/lib"
  if ! grep -q "^LONGQA_CUDA:BOOL=ON" "$build/CMakeCache.txt" 2>/dev/null && [ "${GPU_CHECK_DRY:-0}" != 1 ]; then
    echo "pack: $build is not a LONGQA_CUDA=ON build: the GPU check needs the fused kernels" >&2
    return 1
  fi
  local entry name sub path lib
  for entry in $BINARIES; do
    name="${entry%%:*}"; sub="${entry#*:}"
    path="$(bin_path "$build" "$name" "$sub")"
    if [ ! -x "$path" ]; then
      if [ "${GPU_CHECK_DRY:-0}" = 1 ] && [[ "$CUDA_ONLY" == *" $name "* ]]; then
        echo "pack: $name not built (LONGQA_CUDA=OFF?): left out of the dry run"; continue
      fi
      echo "pack: $path missing (build it first: cmake --build $build --target $name)" >&2
      return 1
    fi
    cp "$path" "$stage/real/$name" && strip "$stage/real/$name"
    mkdir -p "$stage/$sub"
    # A wrapper at the build tree's path: the bundled libraries, then the GPU machine's torch.
    cat > "$stage/$sub/$name" <<EOF
#!/bin/sh
here="\$(cd "\$(dirname "\$0")/.." && pwd)"
LD_LIBRARY_PATH="\$here/lib\${LONGQA_RUNTIME_LIBS:+:\$LONGQA_RUNTIME_LIBS}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$here/real/$name" "\$@"
EOF
    chmod +x "$stage/$sub/$name"
  done
  # A real copy of the small library the GPU image lacks (the tokenizer's).
  for lib in libutf8proc.so.2; do
    path="$(ldd "$stage/real/longqa" | awk -v l="$lib" '$1 == l {print $3}')"
    [ -n "$path" ] && [ -e "$path" ] || { echo "pack: $lib not found by ldd" >&2; return 1; }
    cp -L "$path" "$stage/lib/$lib"
  done
  # FAISS's BLAS/LAPACK and the docstore's SQLite: stubs with the symbols longqa uses, each
  # aborting if called (the retriever and the index are no part of this check, and a device call
  # has no room for openblas; the dry run runs every stage through these stubs).
  local so
  for so in libblas.so.3 liblapack.so.3 libsqlite3.so.0; do
    path="$(ldd "$stage/real/longqa" | awk -v l="$so" '$1 == l {print $3}')"
    [ -n "$path" ] || { echo "pack: $so not found by ldd" >&2; return 1; }
    {
      echo '#include <stdio.h>'
      echo '#include <stdlib.h>'
      echo "static void stub(const char* f) { fprintf(stderr, \"%s: a stub $so (scripts/gpu_check.sh --pack): the GPU check does not use it\\n\", f); abort(); }"
      comm -12 <(nm -D --undefined-only "$stage/real/longqa" | awk '{print $NF}' | sed 's/@.*//' | sort -u) \
               <(nm -D --defined-only "$path" | awk '{print $NF}' | sed 's/@.*//' | sort -u) |
        while read -r sym; do echo "void $sym(void) { stub(\"$sym\"); }"; done
    } > "$stage/stub_${so%%.*}.c"
    cc -shared -fPIC -O1 -Wl,-soname,"$so" -o "$stage/lib/$so" "$stage/stub_${so%%.*}.c" || return 1
    rm "$stage/stub_${so%%.*}.c"
  done
  git -C "$root" rev-parse HEAD > "$stage/SOURCE_COMMIT" 2>/dev/null || true
  (cd "$root" && git status --short -- . 2>/dev/null | head -50) > "$stage/SOURCE_STATUS" || true
  mkdir -p "$(dirname "$dest")"
  tar -cf - -C "$stage" . | $compress > "$dest.tmp" && mv "$dest.tmp" "$dest"
  rm -rf "$stage"
  echo "pack: $(du -h "$dest" | cut -f1) in $dest"
}

# What a device call sends: tracked + untracked-not-ignored files, plus the carried path.
check_travel_size() {
  local carry="$1" tree extra total limit=$((64 * 1024 * 1024))
  tree=$(cd "$root" && { git ls-files -z; git ls-files -z --others --exclude-standard; } |
         xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
  extra=$(du -sb "$carry" | cut -f1)
  total=$((tree + extra))
  echo "travel size: tree $((tree / 1024)) KiB + carry $((extra / 1024)) KiB = $((total / 1024)) KiB of $((limit / 1024)) KiB"
  [ "$total" -le "$limit" ] || { echo "too large for a device call: remove untracked files or shrink the bundle" >&2; return 1; }
}

bin_path() {  # bin_path BUILD NAME SUBDIR: $LONGQA_BIN_<name> overrides the build tree's path
  local var="LONGQA_BIN_$2"
  echo "${!var:-$1/$3/$2}"
}

# ======================================================================== stages (children)
stage_setup() {
  case "$GPU_CHECK_SOURCE" in
    prebuilt)
      rm -rf "$GPU_CHECK_BIN" && mkdir -p "$GPU_CHECK_BIN"
      tar -xf "$GPU_CHECK_BUNDLE" -C "$GPU_CHECK_BIN" 2>/dev/null ||  # no xz program: Python's lzma
        "$GPU_CHECK_PYTHON" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
          "$GPU_CHECK_BUNDLE" "$GPU_CHECK_BIN" || return 1
      echo "unpacked $GPU_CHECK_BUNDLE ($(du -h "$GPU_CHECK_BUNDLE" | cut -f1)); built from $(cat "$GPU_CHECK_BIN/SOURCE_COMMIT" 2>/dev/null)"
      [ -s "$GPU_CHECK_BIN/SOURCE_STATUS" ] && { echo "uncommitted changes in that build:"; cat "$GPU_CHECK_BIN/SOURCE_STATUS"; }
      return 0 ;;
    builddir) echo "binaries from $GPU_CHECK_BIN"; return 0 ;;
    debs) source_build ;;
    *) echo "no binaries: no build-gpu-carry/prebuilt.tar.xz (scripts/gpu_check.sh --pack, here), no built" \
            "\$LONGQA_BUILD_DIR, no .debs/*.deb"; return 1 ;;
  esac
}

# Source build from carried .debs (unpacked into a prefix, never into /), only the targets needed.
source_build() {
  local prefix="${LONGQA_DEB_PREFIX:-/opt/debs}" usr arch_lib f tmp pc targets=() entry generator=()
  usr="$prefix/usr"; arch_lib="$usr/lib/x86_64-linux-gnu"
  mkdir -p "$prefix"
  for f in "$root"/.debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$f" "$prefix"
    else tmp="$(mktemp -d)"; (cd "$tmp" && ar x "$f" && tar -xf data.tar.* -C "$prefix"); rm -rf "$tmp"; fi
  done
  # pkg-config files name /usr: point them at the prefix. faiss's exported target names the
  # libblas/liblapack alternatives symlinks (no .deb holds them): openblas-pthread's copies.
  for pc in $(find "$usr" -name '*.pc'); do sed -i -E "s#^prefix=/usr\$#prefix=$usr#; s#=/usr/#=$usr/#g" "$pc"; done
  sed -i "s#/usr/lib/x86_64-linux-gnu/libblas.so#$arch_lib/openblas-pthread/libblas.so#g; \
          s#/usr/lib/x86_64-linux-gnu/liblapack.so#$arch_lib/openblas-pthread/liblapack.so#g" \
      "$arch_lib/cmake/faiss/faiss-targets.cmake"
  export PATH="$usr/bin:$PATH" CPATH="$usr/include${CPATH:+:$CPATH}"
  [ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
  export LIBRARY_PATH="$arch_lib:$arch_lib/openblas-pthread${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$arch_lib/pkgconfig:$usr/share/pkgconfig"
  local pkgconfig; pkgconfig="$(command -v pkg-config || echo "$usr/bin/pkgconf")"
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$GPU_CHECK_BIN" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DLONGQA_PYTHON="$GPU_CHECK_PYTHON" -DLONGQA_CUDA=ON -DLONGQA_CUDA_ARCHS="${LONGQA_CUDA_ARCHS:-90}" \
    -DCMAKE_PREFIX_PATH="$usr" -DPKG_CONFIG_EXECUTABLE="$pkgconfig" \
    -DCatch2_DIR="$usr/lib/cmake/Catch2" -Dnlohmann_json_DIR="$usr/share/cmake/nlohmann_json" \
    -Dfaiss_DIR="$arch_lib/cmake/faiss" || return 1
  for entry in $BINARIES; do targets+=(--target "${entry%%:*}"); done
  cmake --build "$GPU_CHECK_BIN" -j"${LONGQA_JOBS:-16}" "${targets[@]}" || return 1
  # The runtime libraries of the unpacked packages, for the stages that follow.
  echo "$arch_lib:$arch_lib/openblas-pthread" > "$GPU_CHECK_WORK/extra_libs"
}

stage_env() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "(no nvidia-smi)"
  "$GPU_CHECK_PYTHON" - <<'EOF'
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "device", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
try:
    import transformers; print("transformers", transformers.__version__)
except Exception as e: print("transformers missing:", e)
try:
    import matplotlib; print("matplotlib", matplotlib.__version__)
except Exception as e: print("matplotlib missing:", e)
EOF
  echo "LONGQA_RUNTIME_LIBS=$LONGQA_RUNTIME_LIBS"
  local rc=0 entry name real
  for entry in $BINARIES; do
    name="${entry%%:*}"
    real="$GPU_CHECK_BIN/real/$name"; [ -e "$real" ] || real="$(bin "$name")"
    [ -e "$real" ] || { echo "$name: absent"; [[ "$CUDA_ONLY" == *" $name "* && "$GPU_CHECK_DRY" = 1 ]] || rc=1; continue; }
    # What the loader would not find, with the wrapper's library path.
    local missing
    missing="$(LD_LIBRARY_PATH="$GPU_CHECK_BIN/lib:$LONGQA_RUNTIME_LIBS" ldd "$real" 2>&1 | grep "not found" || true)"
    if [ -n "$missing" ]; then echo "$name: MISSING LIBRARIES"; echo "$missing"; rc=1; else echo "$name: libraries found"; fi
  done
  "$(bin longqa)" --help > /dev/null || { echo "longqa --help failed"; rc=1; }
  return $rc
}

bin() {  # the path of binary NAME for the stages: the unpacked wrapper, or the build tree's
  local sub; sub="$(for e in $BINARIES; do [ "${e%%:*}" = "$1" ] && echo "${e#*:}"; done)"
  if [ "$GPU_CHECK_SOURCE" = prebuilt ]; then echo "$GPU_CHECK_BIN/$sub/$1"; else bin_path "$GPU_CHECK_BIN" "$1" "$sub"; fi
}

# The gpu-label ctest entries, as tests/CMakeLists.txt registers them: NAME -w NoAssertions "[gpu]".
stage_tests() {
  local rc=0 name code
  for name in test_attention_cuda test_text_encoder; do
    if [ ! -e "$(bin "$name")" ] && [ "$GPU_CHECK_DRY" = 1 ]; then echo "$name: not built, skipped"; continue; fi
    echo "== ${name}_gpu (LONGQA_REQUIRE_GPU=1)"
    LONGQA_REQUIRE_GPU=1 "$(bin "$name")" -w NoAssertions "[gpu]" --durations yes; code=$?
    if [ "$GPU_CHECK_DRY" = 1 ]; then
      # No GPU here: required, the entry must fail (not pass, not skip); otherwise it must skip (77).
      [ "$code" -ne 0 ] && [ "$code" -ne 77 ] || { echo "$name: LONGQA_REQUIRE_GPU=1 without a GPU gave $code, not a failure"; rc=1; }
      "$(bin "$name")" -w NoAssertions "[gpu]" > /dev/null 2>&1; code=$?
      [ "$code" -eq 77 ] || { echo "$name: without a GPU gave $code, not 77 (skipped)"; rc=1; }
      echo "$name: fails when required, skipped (77) otherwise, as it should without a GPU"
    else
      [ "$code" -eq 0 ] || { echo "${name}_gpu: exit $code"; rc=1; }
    fi
  done
  return $rc
}

stage_kernel() {
  if [ "$GPU_CHECK_DRY" = 1 ]; then
    [ -e "$(bin attention_cuda_bench)" ] || { echo "attention_cuda_bench not built, skipped"; return 0; }
    "$(bin attention_cuda_bench)" --help && return 0
    return 1
  fi
  "$(bin attention_cuda_bench)" --out "$GPU_CHECK_RESULTS/attention_cuda_$GPU_SLUG.json"
}

stage_flex() {
  local dry=(); [ "$GPU_CHECK_DRY" = 1 ] && dry=(--dry-run)
  PYTHONUNBUFFERED=1 "$GPU_CHECK_PYTHON" "$root/bench/flex_attention_bench.py" --check "${dry[@]}" \
    --dtypes "${FLEX_DTYPES:-bfloat16}" --min-n "${FLEX_MIN_N:-4096}" --deadline-s $(($1 - 20)) \
    --out "$GPU_CHECK_RESULTS/flex_attention_$GPU_SLUG.json"
}

stage_reader() {
  local dry=(); [ "$GPU_CHECK_DRY" = 1 ] && dry=(--dry-run)
  PYTHONUNBUFFERED=1 "$GPU_CHECK_PYTHON" "$root/bench/reader_race.py" "${dry[@]}" --deadline-s $(($1 - 15)) \
    --longqa "$(bin longqa)" --reader-length-bench "$(bin reader_length_bench)" \
    --work "$GPU_CHECK_WORK/reader_race" --out "$GPU_CHECK_RESULTS/reader_race_$GPU_SLUG.json"
}

stage_hf() {
  local dry=(); [ "$GPU_CHECK_DRY" = 1 ] && dry=(--dry-run)
  PYTHONUNBUFFERED=1 "$GPU_CHECK_PYTHON" "$root/scripts/gpu_hf_equivalence.py" "${dry[@]}" \
    --reader-length-bench "$(bin reader_length_bench)" --out "$GPU_CHECK_RESULTS/hf_equivalence_$GPU_SLUG.json"
}

# train-reader --device cuda (bf16 autocast, the CLI's default on CUDA) on a generated dataset:
# the sample corpus's articles with a planted "The access code is NNNN." sentence, 100 steps.
stage_train() {
  local d="$GPU_CHECK_WORK/train" config steps=100 batch=8 tokens=512 device=cuda train=200 dev=32
  rm -rf "$d" && mkdir -p "$d"
  if [ "$GPU_CHECK_DRY" = 1 ]; then
    config="$root/examples/tiny_littlebird_config.json"; steps=2 batch=2 tokens=256 device=cpu train=8 dev=2
  else
    config="$d/config.json"
    cat > "$config" <<'EOF'
{"model_type": "littlebird", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
 "intermediate_size": 3072, "type_vocab_size": 2, "block_size": 64, "pack_size": 64,
 "max_seq_length": 4096, "hidden_act": "gelu", "layer_norm_eps": 1e-12}
EOF
  fi
  "$GPU_CHECK_PYTHON" - "$root/examples/data/sample_corpus.jsonl" "$d" "$train" "$dev" <<'EOF' || return 1
import json, random, sys
corpus, out, n_train, n_dev = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
texts = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8") if l.strip()]
rng = random.Random(0)
def make(n, tag):
    articles = []
    for i in range(n):
        words = rng.choice(texts).split()
        start = rng.randrange(max(1, len(words) - 250))
        words = words[start:start + 250]
        code = str(rng.randrange(1000, 10000))
        cut = rng.randrange(len(words) + 1)
        before = " ".join(words[:cut])
        context = (before + " " if before else "") + f"The access code is {code}. " + " ".join(words[cut:])
        at = context.index(f"The access code is {code}") + len("The access code is ")
        articles.append({"title": f"{tag}{i}", "paragraphs": [{"context": context, "qas": [
            {"id": f"{tag}{i}", "question": "What is the access code?",
             "answers": [{"text": code, "answer_start": at}]}]}]})
    json.dump({"version": "1.1", "data": articles}, open(f"{out}/{tag}.json", "w"))
make(n_train, "train"); make(n_dev, "dev")
print(f"generated {n_train} training and {n_dev} dev questions in {out}")
EOF
  "$(bin longqa)" model init --config "$config" --vocab "$root/models/vocab/kobigbird/vocab.txt" \
    --out "$d/model" || return 1
  local start=$SECONDS
  "$(bin longqa)" train-reader --model "$d/model" --train "$d/train.json" --dev "$d/dev.json" \
    --max-steps "$steps" --batch-size "$batch" --tokens "$tokens" --lr 1e-4 --log-every 10 \
    --save-every 0 --device "$device" --out "$d/out" || return 1
  echo "train-reader: $steps steps of $batch x $tokens tokens on $device in $((SECONDS - start)) s"
}

stage_plot() {
  "$GPU_CHECK_PYTHON" "$root/bench/plot_attention.py" --results "$GPU_CHECK_RESULTS"
}

# The numbers the issue's targets name, from the results so far: results/highlights.json.
highlights() {
  "$GPU_CHECK_PYTHON" "$root/scripts/gpu_check_highlights.py" "$GPU_CHECK_RESULTS" "$GPU_CHECK_WORK/logs" 2>&1
}

# ======================================================================== the driver (parent)
json_escape() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr -d '\n\r\t'; }

write_summary() {
  {
    printf '{\n  "check": "gpu_check", "dry_run": %s, "source": "%s", "started": "%s", "elapsed_s": %d,\n' \
      "$([ "$GPU_CHECK_DRY" = 1 ] && echo true || echo false)" "$GPU_CHECK_SOURCE" "$started_utc" $((SECONDS - t0))
    printf '  "budgets_s": {"total": %s, "setup": %s, "build": %s, "tests": %s, "kernel": %s, "flex": %s, "reader": %s, "hf": %s, "train": %s, "plot": %s},\n' \
      "$T_TOTAL" "$T_SETUP" "$T_BUILD" "$T_TESTS" "$T_KERNEL" "$T_FLEX" "$T_READER" "$T_HF" "$T_TRAIN" "$T_PLOT"
    printf '  "outputs": ["summary.json", "highlights.json", "gpu_check.log", "gpu_check.tar.gz (logs/, results/)"],\n'
    printf '  "stages": [\n%s\n  ]\n}\n' "$(IFS=,; echo "${stage_json[*]:-}" | sed 's/},{/},\n    {/g; s/^/    /')"
  } > "$GPU_CHECK_WORK/summary.json"
}

publish() {  # everything so far into $OUT: three files
  write_summary
  mkdir -p "$OUT"
  tar -czf "$OUT/gpu_check.tar.gz.tmp" -C "$GPU_CHECK_WORK" summary.json logs results 2>/dev/null &&
    mv "$OUT/gpu_check.tar.gz.tmp" "$OUT/gpu_check.tar.gz"
  cp "$GPU_CHECK_WORK/summary.json" "$OUT/summary.json"
  cp "$GPU_CHECK_WORK/logs/gpu_check.log" "$OUT/gpu_check.log"
}

run_stage() {  # run_stage NAME BUDGET
  local name="$1" budget="$2" left status code start outputs
  left=$((T_TOTAL - (SECONDS - t0) - 10))
  [ "$left" -lt "$budget" ] && budget="$left"
  start=$SECONDS
  if [ "$budget" -lt 5 ]; then
    status="skipped: no time left"; code=-1
    log "stage $name: $status"
  else
    log "stage $name (budget ${budget} s)"
    timeout -k 10 "$budget" bash "$self" --stage "$name" "$budget" 2>&1 | tee "$GPU_CHECK_WORK/logs/$name.log" >> "$GPU_CHECK_WORK/logs/gpu_check.log"
    code=${PIPESTATUS[0]}
    case "$code" in
      0) status=ok ;;
      124|137) status="timeout after ${budget} s" ;;
      *) status="failed (exit $code)" ;;
    esac
    tail -n 25 "$GPU_CHECK_WORK/logs/$name.log"
    log "stage $name: $status in $((SECONDS - start)) s"
  fi
  [ "$status" = ok ] || failures=$((failures + 1))
  outputs="$(cd "$GPU_CHECK_WORK" && { ls "logs/$name.log" 2>/dev/null; find results -newer "$GPU_CHECK_WORK/.stage_mark" -type f 2>/dev/null; } |
             sed 's/.*/"&"/' | paste -sd, -)"
  stage_json+=("{\"stage\": \"$name\", \"status\": \"$(echo "$status" | json_escape)\", \"exit\": $code, \"seconds\": $((SECONDS - start)), \"budget_s\": $budget, \"outputs\": [${outputs}]}")
  touch "$GPU_CHECK_WORK/.stage_mark"
  publish
}

main() {
  local mode=gpu stages="$ALL_STAGES"
  while [ $# -gt 0 ]; do
    case "$1" in
      --stage) shift; GPU_CHECK_STAGE_BUDGET="${2:-60}"; "stage_$1" "${2:-60}"; exit $? ;;
      --pack) mode=pack ;;
      --dry-run) mode=dry ;;
      --stages) shift; stages="${1//,/ }" ;;
      -h|--help) sed -n '2,/^set -uo/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) echo "unknown argument '$1' (--pack, --dry-run, --stages LIST, --help)" >&2; exit 2 ;;
    esac
    shift
  done
  for s in $stages; do
    [[ " $ALL_STAGES " == *" $s "* ]] || { echo "unknown stage '$s' ($ALL_STAGES)" >&2; exit 2; }
  done
  if [ "$mode" = pack ]; then
    local dest="${LONGQA_PREBUILT:-$root/build-gpu-carry/prebuilt.tar.xz}"
    pack "${LONGQA_BUILD_DIR:-$root/build}" "$dest" "xz -9 -T1 -c" && check_travel_size "$(dirname "$dest")"
    exit $?
  fi

  export GPU_CHECK_DRY=0
  [ "$mode" = dry ] && GPU_CHECK_DRY=1
  if [ -n "${LONGQA_PYTHON:-}" ]; then GPU_CHECK_PYTHON="$LONGQA_PYTHON"
  elif [ "$GPU_CHECK_DRY" = 1 ] && [ -x "$root/.venv/bin/python" ]; then GPU_CHECK_PYTHON="$root/.venv/bin/python"
  else GPU_CHECK_PYTHON="$(command -v python3)"; fi
  export GPU_CHECK_PYTHON
  export GPU_CHECK_WORK="${GPU_CHECK_WORK:-$(mktemp -d /tmp/gpu_check.XXXXXX)}"
  export OUT="${OUT:-$GPU_CHECK_WORK/out}"
  export GPU_CHECK_RESULTS="$GPU_CHECK_WORK/results"
  rm -rf "$GPU_CHECK_WORK/logs" "$GPU_CHECK_RESULTS"
  mkdir -p "$GPU_CHECK_WORK/logs" "$GPU_CHECK_RESULTS" "$OUT"
  touch "$GPU_CHECK_WORK/.stage_mark"
  t0=$SECONDS; started_utc="$(date -u +%FT%TZ)"; failures=0; stage_json=()

  # Where the binaries come from (see the header).
  local bundle="${LONGQA_PREBUILT:-$root/build-gpu-carry/prebuilt.tar.xz}" setup_budget="$T_SETUP"
  if [ "$GPU_CHECK_DRY" = 1 ]; then
    # Pack ctest's (or the given) build quickly, then run from the unpacked copy as the GPU does.
    bundle="$GPU_CHECK_WORK/prebuilt_dry.tar.gz"
    log "dry run: packing the binaries of ${LONGQA_BUILD_DIR:-$root/build} into $bundle"
    pack "${LONGQA_BUILD_DIR:-$root/build}" "$bundle" "gzip -1 -c" >> "$GPU_CHECK_WORK/logs/gpu_check.log" 2>&1 ||
      { log "pack failed:"; tail -5 "$GPU_CHECK_WORK/logs/gpu_check.log"; }
  fi
  if [ -f "$bundle" ]; then
    export GPU_CHECK_SOURCE=prebuilt GPU_CHECK_BUNDLE="$bundle" GPU_CHECK_BIN="$GPU_CHECK_WORK/prebuilt"
  elif [ -n "${LONGQA_BUILD_DIR:-}" ] && [ -e "$(bin_path "$LONGQA_BUILD_DIR" longqa cli)" ]; then
    export GPU_CHECK_SOURCE=builddir GPU_CHECK_BIN="$LONGQA_BUILD_DIR"
  elif compgen -G "$root/.debs/*.deb" > /dev/null; then
    export GPU_CHECK_SOURCE=debs GPU_CHECK_BIN="${LONGQA_BUILD_DIR:-$root/build-gpu}"; setup_budget="$T_BUILD"
  else
    export GPU_CHECK_SOURCE=none GPU_CHECK_BIN=/nonexistent
  fi
  log "mode $mode, binaries: $GPU_CHECK_SOURCE, python: $GPU_CHECK_PYTHON, work: $GPU_CHECK_WORK, out: $OUT"
  # The GPU machine's torch (and its CUDA runtime) for the prebuilt binaries; the GPU's name as
  # the benchmarks' file names spell it.
  local probe
  probe="$("$GPU_CHECK_PYTHON" -c '
import os, re, torch
lib = os.path.join(os.path.dirname(torch.__file__), "lib")
site = os.path.dirname(os.path.dirname(torch.__file__))
dirs = [lib] + [os.path.join(site, "nvidia", d, "lib") for d in ("cu13", "cuda_runtime", "cudnn", "nccl")]
print(":".join(d for d in dirs + ["/usr/local/cuda/lib64"] if os.path.isdir(d)))
name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
print(re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", name.lower())).strip("_"))' 2>&1)" || log "python/torch probe failed: $probe"
  export LONGQA_RUNTIME_LIBS GPU_SLUG
  LONGQA_RUNTIME_LIBS="$(echo "$probe" | sed -n 1p)"
  GPU_SLUG="$(echo "$probe" | sed -n 2p)"; GPU_SLUG="${GPU_SLUG:-unknown}"

  run_stage setup "$setup_budget"
  if [ -s "$GPU_CHECK_WORK/extra_libs" ]; then LONGQA_RUNTIME_LIBS="$(cat "$GPU_CHECK_WORK/extra_libs"):$LONGQA_RUNTIME_LIBS"; fi
  export LONGQA_RUNTIME_LIBS
  declare -A budget=([env]=20 [tests]=$T_TESTS [kernel]=$T_KERNEL [flex]=$T_FLEX [reader]=$T_READER
                     [hf]=$T_HF [train]=$T_TRAIN [plot]=$T_PLOT)
  local s
  for s in $ALL_STAGES; do
    [[ " $stages " == *" $s "* ]] || continue
    run_stage "$s" "${budget[$s]}"
  done
  highlights | tee -a "$GPU_CHECK_WORK/logs/gpu_check.log"
  publish
  cp "$GPU_CHECK_RESULTS/highlights.json" "$OUT/" 2>/dev/null
  log "done in $((SECONDS - t0)) s: $failures stage(s) not ok; $OUT: $(ls "$OUT" | tr '\n' ' ')"
  cp "$GPU_CHECK_WORK/logs/gpu_check.log" "$OUT/gpu_check.log"
  [ "$failures" -eq 0 ]
}

main "$@"
