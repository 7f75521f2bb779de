#!/usr/bin/env bash
# The accuracy/speed suite of a reader on the public dev halves (../shared/data), on the
# articles it did not train on: paragraph mode, whole-article (long-document) mode and
# open-domain mode (retrieve over every document of the set, then read), for SQuAD 1.1 and
# KorQuAD 1.0. Each run writes `longqa eval --json` output and per-question records to
# bench/results/eval/<name>/; bench/make_report.py turns them into the report.
#
#   bash bench/run_eval_suite.sh MODEL_DIR NAME [sets]
#     sets: squad, korquad or both (default both)
#   LONGQA_EVAL_SAMPLE    questions sampled for the whole-article and open-domain runs (default 200)
#   LONGQA_SQUAD_DEV      SQuAD articles the model did not train on (default 16:, i.e. 16-23)
#   LONGQA_KORQUAD_DEV    KorQuAD articles the model did not train on (default 55:)
#   LONGQA_ENCODER        the retriever's text encoder (default all-MiniLM-L6-v2 from the venv)
#   LONGQA_THREADS        CPU threads of each eval (default 0 = all cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="${1:?usage: run_eval_suite.sh MODEL_DIR NAME [squad|korquad|both]}"
name="${2:?usage: run_eval_suite.sh MODEL_DIR NAME [squad|korquad|both]}"
sets="${3:-both}"
longqa=./build/cli/longqa
data="$root/../shared/data"
sample="${LONGQA_EVAL_SAMPLE:-200}"
venv="${LONGQA_VENV:-$root/.venv}"
encoder="${LONGQA_ENCODER:-$(bash scripts/minilm_dir.sh)}"
out="bench/results/eval/$name"
work=build/eval-suite
mkdir -p "$out" "$work"

# index DIR CORPUS UNIT BM25: an index of every document of the set (built once).
index() {
  if ! "$longqa" index info --index "$1" >/dev/null 2>&1; then
    rm -rf "$1"
    "$longqa" index build --corpus "$2" --unit "$3" --bm25 "$4" --encoder "$encoder" --out "$1" >&2
  fi
}

# run NAME ARGS...: one eval, its JSON and per-question records.
run() {
  local run_name="$1"
  shift
  echo "== $name: $run_name" >&2
  "$longqa" eval --model "$model" --threads "${LONGQA_THREADS:-0}" --json --per-question "$out/$run_name.questions.jsonl" "$@" > "$out/$run_name.json.tmp"
  mv "$out/$run_name.json.tmp" "$out/$run_name.json"
  "$venv/bin/python" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("   EM %.2f F1 %.2f, %d questions, %.1f q/s, %.0f tokens/s, peak %.0f MiB%s" % (r["exact_match"], r["f1"], r["questions"], r["questions_per_second"], r["tokens_per_second"], r["peak_rss_mib"], ", recall " + str({k: round(v, 3) for k, v in r["open_domain"]["recall"].items()}) if "open_domain" in r else ""))' "$out/$run_name.json" >&2
}

# suite SET FILE DEV_ARTICLES BM25 MODE. Whole-article and open-domain answers are ranked with
# the passage prior (the default passage_weight): whole-article runs score passages with
# --encoder, open-domain runs take them from the index. Paragraph runs have none (a paragraph
# is one passage: it would add the same to every span).
suite() {
  local set="$1" file="$2" dev="$3" bm25="$4" mode="$5"
  run "$set-paragraph" --data "$file" --articles "$dev"
  run "$set-article" --data "$file" --articles "$dev" --unit article --sample "$sample" --encoder "$encoder"
  index "$work/$set-paragraphs-$bm25" "$file" paragraph "$bm25"
  run "$set-open-paragraph" --data "$file" --articles "$dev" --index "$work/$set-paragraphs-$bm25" --mode "$mode" \
    --top-k-documents 5 --sample "$sample"
  index "$work/$set-articles-$bm25" "$file" article "$bm25"
  run "$set-open-article" --data "$file" --articles "$dev" --unit article --index "$work/$set-articles-$bm25" \
    --mode "$mode" --top-k-documents 1 --sample "$sample"
}

if [ "$sets" = squad ] || [ "$sets" = both ]; then
  suite squad "$data/squad1.1/dev-v1.1_public.json" "${LONGQA_SQUAD_DEV:-16:}" wordpiece fused
fi
if [ "$sets" = korquad ] || [ "$sets" = both ]; then
  # Korean: all-MiniLM-L6-v2 is an English encoder (its dense recall on KorQuAD is poor, see
  # retriever_recall.json), so Korean retrieval is BM25 over trigrams (its similarities still
  # make the passage prior).
  suite korquad "$data/korquad1/KorQuAD_v1.0_dev_public.json" "${LONGQA_KORQUAD_DEV:-55:}" trigram bm25
fi
echo "results in $out" >&2
