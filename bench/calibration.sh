#!/usr/bin/env bash
# Does calibrating span scores across windows and documents help (ReaderOptions::
# score_calibration: raw, null, softmax)? Within one window the three rank alike, so this
# measures where answers from different windows compete, on the SQuAD articles a reader did
# not train on (16-23):
#   open-paragraph  the top 5 retrieved paragraphs of all the set's paragraphs (5 windows);
#   open-article    the top 3 retrieved whole articles, each in one window;
#   article-512     each question's whole article in 512-token windows (overlap a quarter).
# Writes bench/results/calibration.json.
#
#   bash bench/calibration.sh MODEL_DIR
#   LONGQA_EVAL_SAMPLE  questions per run (default 200)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="${1:?usage: calibration.sh MODEL_DIR}"
longqa=./build/cli/longqa
squad="$root/../shared/data/squad1.1/dev-v1.1_public.json"
sample="${LONGQA_EVAL_SAMPLE:-200}"
encoder="$(bash scripts/minilm_dir.sh)"
work=build/eval-suite  # the indexes bench/run_eval_suite.sh builds (same names)
mkdir -p "$work/calibration"
index() {
  "$longqa" index info --index "$1" >/dev/null 2>&1 ||
    "$longqa" index build --corpus "$squad" --unit "$2" --bm25 wordpiece --encoder "$encoder" --out "$1" >&2
}
index "$work/squad-paragraphs-wordpiece" paragraph
index "$work/squad-articles-wordpiece" article

for calibration in raw null softmax; do
  run() {  # run NAME ARGS...
    "$longqa" eval --model "$model" --data "$squad" --articles 16: --sample "$sample" --calibration "$calibration" \
      --json "${@:2}" > "$work/calibration/$1-$calibration.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%-16s %-8s EM %.1f F1 %.1f" % (sys.argv[2], sys.argv[3], r["exact_match"], r["f1"]))' \
      "$work/calibration/$1-$calibration.json" "$1" "$calibration"
  }
  run open-paragraph --index "$work/squad-paragraphs-wordpiece" --top-k-documents 5
  run open-article --unit article --index "$work/squad-articles-wordpiece" --top-k-documents 3
  run article-512 --unit article --window 512
done

python3 - "$work/calibration" "$model" bench/results/calibration.json <<'EOF'
import glob, json, os, sys
work, model, out = sys.argv[1:4]
runs = {}
for path in sorted(glob.glob(os.path.join(work, "*.json"))):
    name, calibration = os.path.basename(path)[:-5].rsplit("-", 1)
    r = json.load(open(path))
    runs.setdefault(name, {})[calibration] = {"em": r["exact_match"], "f1": r["f1"], "questions": r["questions"]}
json.dump({"model": model, "what": "span-score calibration across windows and documents, SQuAD 1.1 public dev "
                                   "articles 16-23", "runs": runs}, open(out, "w"), indent=2)
print("wrote", out)
EOF
