#!/usr/bin/env bash
# Configures and builds Vigil into build/ (or $VIGIL_BUILD_DIR). Extra arguments go to cmake's
# configure step; $VIGIL_TARGETS (space-separated) limits the build to those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${VIGIL_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
targets=()
for t in ${VIGIL_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
