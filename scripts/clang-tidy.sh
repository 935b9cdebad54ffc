#!/usr/bin/env bash
# Runs clang-tidy (the checks in .clang-tidy) over Vigil's own sources as built in BUILD_DIR:
# the agent/, collector/, common/ and tests/ files of its compile_commands.json (configure with
# -DCMAKE_EXPORT_COMPILE_COMMANDS=ON); generated sources in the build tree are left out.
# Exits non-zero on any finding. Usage: scripts/clang-tidy.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:?usage: scripts/clang-tidy.sh BUILD_DIR}
if [ ! -f "$build_dir/compile_commands.json" ]; then
  echo "clang-tidy: no $build_dir/compile_commands.json (configure with" \
    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON)" >&2
  exit 2
fi
# run-clang-tidy matches its file arguments as regular expressions against the absolute paths.
root=$(pwd -P)
# Only the findings are printed (not each command, nor the count of suppressed warnings in
# system headers); the exit status is run-clang-tidy's, non-zero when any file has a finding.
run-clang-tidy-14 -p "$build_dir" -j "$(nproc)" -quiet \
  "^$root/(agent|collector|common|tests)/.*\.cc\$" 2>&1 |
  sed -E -e '/^clang-tidy-14 /d' \
    -e '/^(\x1b\[[0-9;]*m)*[0-9]+ (warning|error)s?( and [0-9]+ errors?)? generated\.$/d'
