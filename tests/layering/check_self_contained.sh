#!/usr/bin/env bash
# A fresh clone must stand alone: fails, naming file and line, if any tracked file refers to a
# place outside the repository: a sibling folder named shared, its seeds, or its upper-case
# architecture note (the repository's own is docs/architecture.md).
# Usage: check_self_contained.sh REPO_ROOT
set -u
root=${1:?repo root}
cd "$root" || exit 1
# Built from pieces so that this script does not match itself.
outside='\.\./'"shared|shared/"'seeds|ARCHITECTURE'"\.md|/work/"'shared'
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard >"$list"
else  # an exported tree without .git: everything but build trees
  find . -type d \( -name '.git' -o -name 'build*' \) -prune -o -type f -print0 >"$list"
fi
checked=$(tr -cd '\0' <"$list" | wc -c)
[ "$checked" -gt 0 ] || { echo "self-contained: no files found"; exit 1; }
hits=$(xargs -0 grep -nIHE -- "$outside" <"$list" 2>/dev/null)
status=0
if [ -n "$hits" ]; then
  while IFS= read -r h; do
    file=${h%%:*} rest=${h#*:}
    echo "self-contained: ${file#./}:${rest%%:*} refers outside the repository: ${rest#*:}"
  done <<<"$hits"
  status=1
fi
[ $status = 0 ] && echo "self-contained: $checked files refer to nothing outside the repository"
exit $status
