#!/usr/bin/env bash
# Folded into scripts/gpu_check.sh (issue 13): the GPU machine's build from carried .debs is its
# third way to get binaries (after a prebuilt bundle and an existing build directory), and the
# tests and benchmarks this script ran are its stages, each time-boxed, results bundled in $OUT.
#   scripts/gpu_build_and_test.sh [ARGS]  =  scripts/gpu_check.sh [ARGS]   (see its --help)
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gpu_check.sh" "$@"
