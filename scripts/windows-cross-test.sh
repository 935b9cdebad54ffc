#!/usr/bin/env bash
# Cross-compiles the Windows agent libraries and their tests with mingw-w64 and runs the tests
# under wine: the Windows platform layer (agent/platform/windows), the CNG crypto backend and
# the portable unit tests of common/ and agent/core. Prints the ctest summary last; exits with
# ctest's status.
#
# Usage: scripts/windows-cross-test.sh [--build-dir DIR]   (default: build-mingw)
# Runs as root on Debian 12 (or through sudo): installs what it needs with apt-get. Nothing is
# written outside DIR but apt's state: cJSON's source (which Debian has no mingw package of)
# is fetched with `apt-get source` into DIR, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

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

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

# cJSON from Debian 12's own source package, built by CMake for the target
# (VIGIL_CJSON_SOURCE_DIR). Fetched once per build directory (scripts/lib/debian.sh).
# shellcheck source=scripts/lib/debian.sh
. scripts/lib/debian.sh
cjson_dir=$(debian_source cjson "$build_dir/_deps/cjson") ||
  { echo "windows-cross-test: apt-get source cjson failed" >&2; exit 1; }
[ -f "$cjson_dir/cJSON.c" ] || { echo "windows-cross-test: no cJSON.c in the cjson source" >&2; exit 1; }
echo "windows-cross-test: cJSON source in ${cjson_dir#$repo/}"
phase "cJSON source"

cmake -S . -B "$build_dir" \
  -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/toolchains/mingw-w64-x86_64.cmake" \
  -DCMAKE_BUILD_TYPE=Release \
  -DVIGIL_BUILD_TESTS=ON \
  -DVIGIL_BUILD_COLLECTOR=OFF \
  -DVIGIL_BUILD_AGENT_APP=OFF \
  -DVIGIL_CRYPTO_BACKEND=cng \
  -DVIGIL_CJSON_SOURCE_DIR="$cjson_dir" \
  -DVIGIL_BOOST_HEADERS=/usr/include/boost >/dev/null
phase "configure"

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

# Keeps going past a target that does not compile, so every test that does still runs (a test
# whose executable did not build fails in ctest's summary).
status=0
cmake --build "$build_dir" -j"$(nproc)" -- -k || status=1
wait "$wineboot_pid" || true

phase "build"

echo "== ctest under wine ($build_dir)"
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 || status=1
phase "ctest"
echo "windows-cross-test: $(($(date +%s) - start)) s in all"
exit $status
