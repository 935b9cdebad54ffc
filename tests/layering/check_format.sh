#!/usr/bin/env bash
# Fails, naming the files, if any C++ source in the repository differs from what clang-format
# (configured by .clang-format at the root) would write.
# Usage: check_format.sh REPO_ROOT
set -u
root=${1:?repo root}
cd "$root" || exit 1
command -v clang-format >/dev/null || { echo "format: clang-format is not installed"; exit 1; }
bad=0 checked=0
while IFS= read -r -d '' f; do
  checked=$((checked + 1))
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format: $f differs from clang-format (run: clang-format -i $f)"
    bad=$((bad + 1))
  fi
done < <(if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
           git ls-files -z --cached --others --exclude-standard -- '*.cc' '*.h'
         else  # an exported tree without .git
           find agent collector common tests tools bench -type f \( -name '*.cc' -o -name '*.h' \) \
             -print0 2>/dev/null
         fi)
[ "$checked" -gt 0 ] || { echo "format: no sources found"; exit 1; }
[ $bad = 0 ] && echo "format: $checked files match .clang-format"
[ $bad = 0 ]
