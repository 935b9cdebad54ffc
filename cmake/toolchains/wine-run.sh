#!/usr/bin/env bash
# Runs one cross-compiled test program under wine: ctest's emulator in a mingw-w64 build
# (cmake/toolchains/mingw-w64-x86_64.cmake). Usage: wine-run.sh WINE PROGRAM [ARG...]
#
# Wine now and then fails to start a program at all: a non-zero status in a few hundredths of a
# second with nothing printed (seen once in CI while clang-tidy loaded both cores). A test
# program that ran prints something (Boost.Test's "Running N test cases...", the corpus
# replay's count of inputs), so a run that failed without printing anything is started once
# more, saying so: a program that really fails that way fails again, and nothing is hidden. A
# run that printed anything is reported as it is; a failing test is never retried.
set -u
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
for attempt in 1 2; do
  "$@" >"$out" 2>"$err"
  status=$?
  cat "$out"
  cat "$err" >&2
  if [ "$status" -eq 0 ] || [ -s "$out" ] || [ -s "$err" ] || [ "$attempt" -eq 2 ]; then
    exit "$status"
  fi
  echo "wine-run: wine exited with status $status before $2 printed anything;" \
       "starting it once more" >&2
done
