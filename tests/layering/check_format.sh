#!/usr/bin/env bash
# Fails, naming the files, if any C++ source in the repository differs from what clang-format
# (configured by .clang-format at the root) would write.
# Usage: check_format.sh REPO_ROOT
set -u
root=${1:?repo root}
cd "$root" || exit 1
command -v clang-format >/dev/null || { echo "format: clang-format is not installed"; exit 1; }
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard -- '*.cc' '*.h' >"$list"
else  # an exported tree without .git
  find agent collector common tests tools bench -type f \( -name '*.cc' -o -name '*.h' \) \
    -print0 2>/dev/null >"$list"
fi
checked=$(tr -cd '\0' <"$list" | wc -c)
[ "$checked" -gt 0 ] || { echo "format: no sources found"; exit 1; }
bad=$(xargs -0 clang-format --dry-run -Werror <"$list" 2>&1 |
      sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' | sort -u)
if [ -n "$bad" ]; then
  while IFS= read -r f; do echo "format: $f differs from clang-format (run: clang-format -i $f)"; done <<<"$bad"
  exit 1
fi
echo "format: $checked files match .clang-format"
