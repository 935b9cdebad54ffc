#!/usr/bin/env bash
# Installs what the tests need, builds Vigil with its tests, and runs the whole suite: a bounded
# libFuzzer run of every fuzz target, the OpenAPI lint, ctest under ASan/UBSan, then ctest on
# the release build (unit tests, integration tests against real collector and agent processes
# on loopback, the layering check, the fuzz corpora). The ctest summary is followed by one line
# naming each step's outcome; the exit status covers every step.
set -euo pipefail
export VIGIL_CI=1  # the tests: a tool this script installs must be there (no skip)
cd "$(dirname "$0")/.."

status=0
steps=""
# Runs one step and records its outcome and duration for the summary line at the end.
step() {
  local name=$1
  shift
  local started=$SECONDS
  if "$@"; then steps+="$name ok"; else steps+="$name FAILED"; status=1; fi
  steps+=" ($((SECONDS - started)) s); "
}
# A heading, with the time since the start: where the 45 minutes go.
heading() { echo "== [$SECONDS s] $*"; }
# Runs a command (a ctest run) with its output also in LOG, so the end of the run can name every
# failed test (a reader of only the last lines, as CI's summary is, still sees what failed).
ctest_logs=(build-fuzz/ctest.log build/ctest-windows.log build/ctest.log)
# shellcheck disable=SC2317 # called through step
logged() {
  local log=$1
  shift
  "$@" 2>&1 | tee "$log"
}

heading "dependencies (scripts/install-deps.sh --test)"
bash scripts/install-deps.sh --test
heading "release build with the tests (build/)"
started=$SECONDS
bash scripts/build.sh -DVIGIL_BUILD_TESTS=ON
rm -f "${ctest_logs[@]}"
steps+="build ok ($((SECONDS - started)) s); "

# The Linux packages built from that build (the agent's binary: the released one, built in a
# Debian 11 root by scripts/build-portable-agent.sh) and checked (lintian, rpmlint,
# systemd-analyze, the agent's libraries and glibc, the agent run in the Debian 11 root),
# their install/upgrade/remove in a throwaway Debian root, and the Windows and macOS installers'
# checks. Mostly waiting (apt, heartbeats), so it runs beside the steps below; its report is
# printed before ctest.
packaging_checks() {
  rm -rf build/packages-release
  mkdir -p build/packages-release
  local started=$SECONDS
  bash scripts/package.sh --build-dir build || return 1
  echo "packaging: packages built and checked in $((SECONDS - started)) s"
  cp build/packages/*.deb build/packages-release/
  bash scripts/package-lifecycle-test.sh build/packages-release || return 1
  started=$SECONDS
  bash scripts/check-installers.sh build || return 1
  echo "packaging: installers checked in $((SECONDS - started)) s"
}
packaging_started=$SECONDS
rm -f build/packaging.status
# (The status also goes to a file: the Windows checks below wait for it.)
{
  if packaging_checks; then echo 0 >build/packaging.status; else echo 1 >build/packaging.status; fi
} >build/packaging.log 2>&1 &
packaging_pid=$!

# One clang build, every library and executable instrumented with AddressSanitizer and
# UndefinedBehaviorSanitizer (and libFuzzer's coverage): the fuzz targets first, each run for a
# bounded time from its seed corpus; then the whole suite from the same tree. The incident
# lab's tools measure the release collector; they are left out of it.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DVIGIL_FUZZ=ON -DVIGIL_SANITIZE=ON -DVIGIL_BUILD_TESTS=ON -DVIGIL_BUILD_TOOLS=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
heading "the fuzz targets, instrumented (build-fuzz/)"
started=$SECONDS
fuzz_targets=$(cmake --build build-fuzz --target help | sed -n 's/^\.\.\. \(.*_libfuzzer\)$/\1/p')
# shellcheck disable=SC2086 # one word per target
cmake --build build-fuzz -j"$(nproc)" --target $fuzz_targets >/dev/null
steps+="fuzz build ok ($((SECONDS - started)) s); "
heading "fuzzing"
step fuzz bash scripts/fuzz.sh build-fuzz "${VIGIL_FUZZ_SECONDS:-10}"

heading "OpenAPI description: redocly lint docs/openapi.yaml"
step openapi bash scripts/lint-openapi.sh

heading "the rest of the instrumented build (build-fuzz/)"
started=$SECONDS
cmake --build build-fuzz -j"$(nproc)" >/dev/null
steps+="asan build ok ($((SECONDS - started)) s); "
# clang-tidy (.clang-tidy's checks) over the product's sources (agent/, collector/, common/) as
# build-fuzz compiles them (its generated headers are there now); any finding fails.
# (`scripts/clang-tidy.sh build-fuzz --with-tests` checks the tests too.) The instrumented tests
# and then the wine tests below wait on real processes much of the time, so it runs beside
# them, at a lower priority; its findings are printed after the wine tests.
tidy_started=$SECONDS
nice -n 10 bash scripts/clang-tidy.sh build-fuzz >build-fuzz/clang-tidy.log 2>&1 &
tidy_pid=$!
# The Windows checks, beside the instrumented ctest: the cross build and its unit tests under
# wine, the exe and MSI (scripts/package.sh --windows), then the wine tests of the release build
# (label windows), which mostly wait for heartbeats. They start once the packaging checks are
# done (check-installers.sh builds vigil-agent.exe in build-mingw too). Every part runs;
# ctest's summary lines say how many tests passed and failed; the log is printed after the
# instrumented ctest.
# shellcheck disable=SC2317 # run in the background below
windows_checks() {
  local failed=0
  while [ ! -f build/packaging.status ] && kill -0 "$packaging_pid" 2>/dev/null; do sleep 2; done
  bash scripts/windows-cross-test.sh --build-dir build-mingw || failed=1
  bash scripts/package.sh --windows --build-dir build-mingw --no-lint || failed=1
  logged build/ctest-windows.log ctest --test-dir build -L windows --output-on-failure -j2 \
    --timeout 600 || failed=1
  echo "$SECONDS" >build/windows.ended
  return "$failed"
}
windows_started=$SECONDS
rm -f build/windows.ended
windows_checks >build/windows.log 2>&1 &
windows_pid=$!
heading "ctest under AddressSanitizer and UndefinedBehaviorSanitizer (build-fuzz)"
# Real collector and agent processes included: a leak or an error in either fails its test.
# Memory errors show at any fleet size, and a simulated world costs ten times more here: the
# sanitized fleet simulations use 3,000 agents, the tenant-silence worlds at most 1,000
# long-lived agents, and the exploration 100 seeds per half (the release run below uses the
# full CI size).
# (The wine tests, label windows, run once, in the Windows checks beside it; the cluster demo's
# test, label demo, tests a script, and the console's browser test, label browser, drives a
# browser for minutes of real time: both run on the release build only. The console's handler
# is under ASan here through collector_http_api_test.) Two at a time: the
# instrumented tests keep the cores much busier than the release ones, and the packaging and
# Windows checks may run beside them; the ones that keep a core busy longest start first (their
# COST).
step asan logged build-fuzz/ctest.log \
  env VIGIL_SIM_AGENTS=3000 VIGIL_SIM_MAX_FLEET=1000 VIGIL_EXPLORE_SEEDS=100 \
  ctest --test-dir build-fuzz --output-on-failure -j2 --timeout 600 -LE "windows|demo|browser"

heading "Linux packages, their life in a Debian root, the installers (build/packaging.log)"
wait "$packaging_pid" || true
packaging_status=$(cat build/packaging.status 2>/dev/null || echo 1)
if [ "$packaging_status" = 0 ]; then steps+="packaging ok"; else steps+="packaging FAILED"; status=1; fi
steps+=" ($((SECONDS - packaging_started)) s, beside the steps before); "
report_lines='^(package:|packaging:|build-portable-agent:|lintian|rpmlint|systemd-analyze|portable-agent'
report_lines+='|lifecycle:|check-installers|ok |FAIL )'
grep -E "$report_lines" build/packaging.log || true
if [ "$packaging_status" != 0 ]; then
  echo "-- the end of build/packaging.log:"
  tail -n 40 build/packaging.log
fi

heading "Windows: vigil-agent.exe cross-built with mingw-w64, its tests under wine; the exe and its MSI under wine against a real collector (build/windows.log)"
windows_status=0
wait "$windows_pid" || windows_status=$?
cat build/windows.log
if [ $windows_status = 0 ]; then steps+="windows ok"; else steps+="windows FAILED"; status=1; fi
windows_ended=$(cat build/windows.ended 2>/dev/null || echo "$SECONDS")
steps+=" ($((windows_ended - windows_started)) s, beside asan); "
heading "clang-tidy over agent/, collector/, common/ (build-fuzz/clang-tidy.log)"
tidy_status=0
wait "$tidy_pid" || tidy_status=$?
cat build-fuzz/clang-tidy.log
if [ $tidy_status = 0 ]; then steps+="tidy ok"; else steps+="tidy FAILED"; status=1; fi
steps+=" ($((SECONDS - tidy_started)) s, beside asan and windows); "

heading "ctest"
# Four at a time on two cores: most of these tests wait on real processes and real time (about
# a third of the CPU at -j2). The fleet scenarios run one at a time (a lock), and a scenario
# about scale runs alone (RUN_SERIAL), so what they measure is the collector.
step ctest logged build/ctest.log ctest --test-dir build --output-on-failure -j4 --timeout 300 -LE windows
for log in "${ctest_logs[@]}"; do
  [ -f "$log" ] || continue
  sed -n '/The following tests FAILED:/,$p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ' |
    sed "s|^[[:space:]]*|== failed in $log: |" || true
done
echo "== steps: ${steps% } total ${SECONDS} s"
exit $status
