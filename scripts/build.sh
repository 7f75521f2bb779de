#!/usr/bin/env bash
# Configures and builds longqa (Release) into build/, after installing what it needs.
#   LONGQA_VENV  the virtual environment with torch (default: .venv in the repository)
#   LONGQA_JOBS  parallel compile jobs (default: 2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install_deps.sh
venv="${LONGQA_VENV:-$root/.venv}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$root/build/install" \
  -DLONGQA_PYTHON="$venv/bin/python" >/dev/null
cmake --build build -j"${LONGQA_JOBS:-2}"
