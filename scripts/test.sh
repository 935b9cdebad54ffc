#!/usr/bin/env bash
# Installs what the tests need, builds Vigil with its tests, and runs the whole suite: a bounded
# libFuzzer run of every fuzz target, the OpenAPI lint, ctest under ASan/UBSan, then ctest on
# the release build (unit tests, integration tests against real collector and agent processes
# on loopback, the layering check, the fuzz corpora). The ctest summary is followed by one line
# naming each step's outcome; the exit status covers every step.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test
bash scripts/build.sh -DVIGIL_BUILD_TESTS=ON

status=0
# The Linux packages built from that build and checked (lintian, rpmlint, systemd-analyze), a
# package of the next version for the upgrade, the packages' install/upgrade/remove in a
# throwaway Debian root, and the Windows and macOS installers' checks. Mostly waiting (apt,
# heartbeats), so it runs beside the steps below; its report is printed before ctest.
packaging_checks() {
  local version next
  version=$(sed -n 's/^project(vigil VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
  next=${version%.*}.$((${version##*.} + 1))
  rm -rf build/packages-release build/packages-upgrade
  mkdir -p build/packages-release build/packages-upgrade
  bash scripts/package.sh --build-dir build --version "$next" --no-lint || return 1
  cp build/packages/vigil-agent_*.deb build/packages-upgrade/
  bash scripts/package.sh --build-dir build || return 1
  cp build/packages/*.deb build/packages-release/
  bash scripts/package-lifecycle-test.sh build/packages-release build/packages-upgrade || return 1
  bash scripts/check-installers.sh build
}
packaging_started=$SECONDS
packaging_checks >build/packaging.log 2>&1 &
packaging_pid=$!

# libFuzzer binaries need clang; each runs for a bounded time from its seed corpus.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVIGIL_FUZZ=ON -DVIGIL_BUILD_TESTS=ON >/dev/null
fuzz_targets=$(cmake --build build-fuzz --target help | sed -n 's/^\.\.\. \(.*_libfuzzer\)$/\1/p')
# shellcheck disable=SC2086 # one word per target
cmake --build build-fuzz -j"$(nproc)" --target $fuzz_targets >/dev/null
steps=""
# Records one step's outcome for the summary line at the end.
step() {
  local name=$1
  shift
  local started=$SECONDS
  if "$@"; then steps+="$name ok"; else steps+="$name FAILED"; status=1; fi
  steps+=" ($((SECONDS - started)) s); "
}
step fuzz bash scripts/fuzz.sh build-fuzz "${VIGIL_FUZZ_SECONDS:-10}"

echo "== OpenAPI description: redocly lint docs/openapi.yaml"
step openapi bash scripts/lint-openapi.sh

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer (real collector and
# agent processes included: a leak or an error in either fails its test).
# The incident lab's scenarios measure the release collector; they are left out here.
VIGIL_BUILD_DIR=build-asan bash scripts/build.sh -DVIGIL_BUILD_TESTS=ON -DVIGIL_SANITIZE=ON \
  -DVIGIL_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
echo "== ctest under AddressSanitizer and UndefinedBehaviorSanitizer"
# Memory errors show at any fleet size: the sanitized fleet simulations use 3,000 agents
# (the release run below uses the full CI size).
step asan env VIGIL_SIM_AGENTS=3000 ctest --test-dir build-asan --output-on-failure -j2 \
  --timeout 600

echo "== Windows: the agent's core and Windows platform layer, cross-built with mingw-w64, tests under wine"
step windows bash scripts/windows-cross-test.sh --build-dir build-mingw

echo "== Linux packages, their life in a Debian root, the installers (build/packaging.log)"
packaging_status=0
wait "$packaging_pid" || packaging_status=$?
if [ $packaging_status = 0 ]; then steps+="packaging ok"; else steps+="packaging FAILED"; status=1; fi
steps+=" ($((SECONDS - packaging_started)) s, beside the steps before); "
grep -E '^(package:|lintian|rpmlint|systemd-analyze|lifecycle:|check-installers|ok |FAIL )' \
  build/packaging.log || true
if [ $packaging_status != 0 ]; then
  echo "-- the end of build/packaging.log:"
  tail -n 40 build/packaging.log
fi

echo "== ctest"
step ctest ctest --test-dir build --output-on-failure -j2 --timeout 300
echo "== steps: ${steps% } total ${SECONDS} s"
exit $status
