#!/usr/bin/env bash
# Cross-compiles the Windows agent (vigil-agent.exe, scripts/build-windows-agent.sh) and its
# tests with mingw-w64 and runs the tests under wine: the Windows platform layer
# (agent/platform/windows), the CNG crypto backend and the portable unit tests of common/ and
# agent/core. Prints the ctest summary last; exits with ctest's status.
#
# Usage: scripts/windows-cross-test.sh [--build-dir DIR]   (default: build-mingw)
# Runs as root on Debian 12 (or through sudo): installs what it needs with apt-get. Nothing is
# written outside DIR but apt's state: curl's and cJSON's sources (which Debian has no mingw
# packages of) are fetched with `apt-get source` into DIR, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build-mingw
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) build_dir=${1#--build-dir=}; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "windows-cross-test: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
start=$(date +%s)
last=$start
# Prints how long the step that just ended took.
phase() {
  local now
  now=$(date +%s)
  echo "windows-cross-test: $1 took $((now - last)) s"
  last=$now
}

bash scripts/install-deps.sh --windows
phase "install-deps"

# The wine prefix is made (in the background, while the build runs) before the tests start,
# not by the first timed test; one wineserver kept alive for the whole run saves starting one
# per test. It is stopped on exit.
export WINEPREFIX="$build_dir/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
[ -x "$wine" ] || wine=$(command -v wine)
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
mkdir -p "$WINEPREFIX"
trap '"$wineserver" -k 2>/dev/null || true' EXIT
"$wineserver" -p
# Any wine command creates (or updates) the prefix and starts its services. Not
# `wineboot --init`: wine runs that itself, and a second one starts a second services.exe.
"$wine" cmd.exe /c exit >/dev/null 2>&1 &
wineboot_pid=$!

# The libraries, vigil-agent.exe and the tests (scripts/build-windows-agent.sh, which installs
# what it needs, fetches curl's and cJSON's sources and keeps going past a test that does not
# compile, so every test that does still runs: one that did not build fails in ctest's summary).
status=0
bash scripts/build-windows-agent.sh --build-dir "$build_dir" --tests || status=1
wait "$wineboot_pid" || true
phase "build"

echo "== ctest under wine ($build_dir)"
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 || status=1
phase "ctest"
echo "windows-cross-test: $(($(date +%s) - start)) s in all"
exit $status
