#!/usr/bin/env bash
# Runs every libFuzzer binary in BUILD_DIR/bin for SECONDS each, starting from a copy of its
# seed corpus in tests/fuzz/corpus/<name>, as many at once as the machine has cores. A crash
# fails the run and leaves the input in BUILD_DIR/fuzz-artifacts/<name>/.
# Usage: scripts/fuzz.sh BUILD_DIR [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build=${1:?build dir}
seconds=${2:-20}

# Runs one target and prints its one-line outcome; non-zero on a crash.
fuzz_one() {
  local bin=$1 name work artifacts runs
  name=$(basename "$bin" _libfuzzer)
  work=$build/fuzz-corpus/$name artifacts=$build/fuzz-artifacts/$name
  mkdir -p "$work" "$artifacts"
  cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
  if "$bin" -max_total_time="$seconds" -max_len=70000 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$work" >"$build/fuzz-$name.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$name.log")
    echo "fuzz $name: ${runs:-?} inputs in ${seconds}s, no crash"
  else
    echo "fuzz $name: FAILED; see $build/fuzz-$name.log and $artifacts" >&2
    tail -n 30 "$build/fuzz-$name.log" >&2
    return 1
  fi
}

status=0 ran=0 slots=$(nproc)
pids=()
for bin in "$build"/bin/*_libfuzzer; do
  [ -x "$bin" ] || continue
  if [ ${#pids[@]} -ge "$slots" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
  fuzz_one "$bin" &
  pids+=($!)
  ran=$((ran + 1))
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $ran -gt 0 ] || { echo "fuzz: no libFuzzer binaries in $build/bin" >&2; exit 1; }
exit $status
