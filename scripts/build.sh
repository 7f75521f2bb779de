#!/usr/bin/env bash
# Configures and builds longqa (Release, -j2) into build/, after installing what it needs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$root/build/install" >/dev/null
cmake --build build -j"${LONGQA_JOBS:-2}"
