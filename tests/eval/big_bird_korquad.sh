#!/usr/bin/env bash
# A KoBigBird-shaped model directory through train-reader and eval on KorQuAD 1.0 and KorQuAD 2.1 (issue 14):
# the path a user with KoBigBird takes, on a small random BigBirdForQuestionAnswering (made by transformers'
# save_pretrained with KoBigBird's own vocab.txt from ../shared/data; the real weights cannot be downloaded here).
#   big_bird_korquad.sh LONGQA PYTHON SHARED_DATA WORK_DIR
# Fails when any step fails or a score is missing; the scores of a random model after a few steps say only that the
# path works.
set -euo pipefail
longqa="$1" python="$2" data="$3" work="$4"
rm -rf "$work" && mkdir -p "$work"
model="$work/kobigbird-tiny"
"$python" - "$data/vocab/kobigbird" "$model" <<'PY'
import os, shutil, sys
import torch
from transformers import BigBirdConfig, BigBirdForQuestionAnswering
vocab_dir, out = sys.argv[1], sys.argv[2]
vocab = open(os.path.join(vocab_dir, "vocab.txt"), encoding="utf-8").read().splitlines()
torch.manual_seed(0)
# KoBigBird's layout (block_sparse, block 64, 3 random blocks, 4096 positions, gelu_new), small widths.
config = BigBirdConfig(vocab_size=len(vocab), hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=256, max_position_embeddings=4096, block_size=64, num_random_blocks=3,
                       attention_type="block_sparse", pad_token_id=vocab.index("[PAD]"), sep_token_id=vocab.index("[SEP]"))
BigBirdForQuestionAnswering(config).save_pretrained(out, safe_serialization=True)
for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
    shutil.copy(os.path.join(vocab_dir, name), out)
PY
"$longqa" model info --model "$model"
korquad1="$data/korquad1/KorQuAD_v1.0_dev_public.json"
korquad2="$data/korquad2/korquad2.1_train_00.sample.json"
"$longqa" train-reader --model "$model" --train "$korquad1" --train-articles 0:4 --max-steps 12 --batch-size 2 \
  --tokens 1024 --lr 3e-4 --save-every 0 --log-every 4 --out "$work/trained" --threads 2
check() {  # a metrics line with EM and F1 in the output of an eval
  grep -Eq '"(exact_match|em)"' "$1" && grep -q '"f1"' "$1" || { echo "no EM/F1 in $1"; cat "$1"; exit 1; }
}
"$longqa" eval --model "$work/trained" --data "$korquad1" --articles 60: --limit 40 --threads 2 --json \
  > "$work/korquad1_paragraph.json"
check "$work/korquad1_paragraph.json"
"$longqa" eval --model "$work/trained" --data "$korquad1" --articles 60: --unit article --limit 10 --threads 2 --json \
  > "$work/korquad1_article.json"
check "$work/korquad1_article.json"
"$longqa" eval --model "$work/trained" --data "$korquad2" --threads 2 --json > "$work/korquad2.json"
check "$work/korquad2.json"
cat "$work/korquad1_paragraph.json" "$work/korquad1_article.json" "$work/korquad2.json"
