#!/usr/bin/env bash
# Runs clang-tidy (the checks in .clang-tidy) over Vigil's own sources as built in BUILD_DIR: the
# agent/, collector/ and common/ files of its compile_commands.json (configure with
# -DCMAKE_EXPORT_COMPILE_COMMANDS=ON), and with --with-tests the tests/ files too (tests/.clang-tidy
# relaxes one check there); generated sources in the build tree are left out.
# Exits non-zero on any finding. Usage: scripts/clang-tidy.sh BUILD_DIR [--with-tests]
# scripts/test.sh runs the product's sources only: the tests' ~110 files would add ~6 minutes on
# 2 cores to a run that must stay within 45.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:?usage: scripts/clang-tidy.sh BUILD_DIR [--with-tests]}
folders='agent|collector|common'
case "${2:-}" in
  '') ;;
  --with-tests) folders+='|tests' ;;
  *) echo "clang-tidy: unknown argument $2" >&2; exit 2 ;;
esac
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
  "^$root/($folders)/.*\.cc\$" 2>&1 |
  sed -E -e '/^clang-tidy-14 /d' \
    -e '/^(\x1b\[[0-9;]*m)*[0-9]+ (warning|error)s?( and [0-9]+ errors?)? generated\.$/d'
