#!/usr/bin/env bash
# Downloads (does not install) the Debian packages that the GPU machine lacks into .debs/
# (git-ignored). That machine reaches no package registry: scripts/gpu_check.sh (its source
# build, used only when no prebuilt bundle is carried) unpacks these with dpkg-deb -x into a
# prefix of its own (/opt/debs), never into /.
# Size: these are ~27 MB, and a device call sends at most 64 MiB with the tree (~60 MiB, most
# of it models/default-en): they do not fit beside the current tree. The default route is
# `scripts/gpu_check.sh --pack` (binaries built here, ~3.5 MiB); this is the fallback for a
# smaller tree.
# The list is the project's system libraries (scripts/install_deps.sh) plus their runtime
# libraries and pkg-config; the compiler toolchain (libc6-dev, libstdc++, libgomp) is the
# GPU image's own.
# Usage: scripts/fetch_gpu_debs.sh [DEST]     (default: <repo>/.debs)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$root/.debs}"
pkgs=(
  libfaiss-dev                                   # static libfaiss.a + CMake config
  libopenblas-pthread-dev libopenblas0-pthread   # faiss's BLAS/LAPACK (not the reference BLAS)
  libgfortran5 libquadmath0                      # openblas runtime
  libeigen3-dev libboost-dev libboost1.74-dev    # headers
  nlohmann-json3-dev catch2                      # headers + CMake configs
  libutf8proc-dev libutf8proc2                   # tokenizer (pkg-config)
  libsqlite3-dev libsqlite3-0                    # docstore
  pkgconf pkgconf-bin libpkgconf3                # pkg-config itself, in case the image has none
)
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
  apt-get update -qq
fi
mkdir -p "$dest"
cd "$dest"
rm -f ./*.deb
apt-get download -q "${pkgs[@]}"
echo "[fetch_gpu_debs] $(ls ./*.deb | wc -l) packages, $(du -sh . | cut -f1) in $dest"
