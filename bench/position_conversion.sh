#!/usr/bin/env bash
# What each way of converting a BERT reader's absolute positions keeps, measured on the SQuAD
# articles the reader did not train on (16-23): the fine-tuned teacher (all-MiniLM-L6-v2 as a
# BERT reader, scripts/train_default_models.sh step 1) converted by `model convert --positions
# cyclic|block|none` and read with no further training, paragraph mode and whole articles in one
# window; the teacher itself beside them. Writes bench/results/position_conversion.json.
#
#   bash bench/position_conversion.sh TEACHER_DIR [more MODEL_DIRs to score the same way]
#   LONGQA_PARAGRAPHS  paragraph questions (default 300, the first of the held-out articles)
#   LONGQA_ARTICLES    whole-article questions (default 60, spread over them)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
teacher="${1:?usage: position_conversion.sh TEACHER_DIR [MODEL_DIR ...]}"
shift
longqa=./build/cli/longqa
squad="$root/../shared/data/squad1.1/dev-v1.1_public.json"
paragraphs="${LONGQA_PARAGRAPHS:-300}"
articles="${LONGQA_ARTICLES:-60}"
work=build/position-conversion
out=bench/results/position_conversion.json
mkdir -p "$work"

score() {  # score NAME MODEL_DIR [eval options for the article mode]
  local name="$1" model="$2"
  shift 2
  "$longqa" eval --model "$model" --data "$squad" --articles 16: --limit "$paragraphs" --json > "$work/$name.paragraph.json"
  "$longqa" eval --model "$model" --data "$squad" --articles 16: --unit article --sample "$articles" --json "$@" \
    > "$work/$name.article.json"
  python3 -c 'import json,sys; p,a=(json.load(open(f)) for f in sys.argv[2:4]); print("%-28s paragraph EM %.1f F1 %.1f | article EM %.1f F1 %.1f" % (sys.argv[1], p["exact_match"], p["f1"], a["exact_match"], a["f1"]))' \
    "$name" "$work/$name.paragraph.json" "$work/$name.article.json"
}

# The teacher reads an article in 512-token windows (its positions end there).
score teacher "$teacher"
for positions in cyclic block none; do
  "$longqa" model convert --from "$teacher" --out "$work/$positions" --positions "$positions" \
    --block-size 64 --pack-size 64 --max-seq-length 16384 > /dev/null
  score "converted-$positions" "$work/$positions"
done
for model in "$@"; do score "$(basename "$model")" "$model"; done

python3 - "$work" "$out" "$paragraphs" "$articles" <<'EOF'
import glob, json, os, sys
work, out, paragraphs, articles = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rows = {}
for path in sorted(glob.glob(os.path.join(work, "*.paragraph.json"))):
    name = os.path.basename(path)[: -len(".paragraph.json")]
    p = json.load(open(path))
    a = json.load(open(os.path.join(work, name + ".article.json")))
    rows[name] = {"paragraph": {"em": p["exact_match"], "f1": p["f1"], "questions": p["questions"]},
                  "article": {"em": a["exact_match"], "f1": a["f1"], "questions": a["questions"]}}
json.dump({"what": "the fine-tuned BERT teacher converted to LittleBird with each --positions choice, no further "
                   "training; SQuAD 1.1 public dev articles 16-23",
           "paragraph_questions": paragraphs, "article_questions": articles, "models": rows},
          open(out, "w"), indent=2)
print("wrote", out)
EOF
