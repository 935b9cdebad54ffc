# shellcheck shell=bash
# Sourced by the installer checks (bash): one "ok"/"FAIL" line per check and a summary.
#   check DESCRIPTION COMMAND...   ok when the command succeeds
#   checks_summary NAME            prints the counts; exits 1 if any check failed
passed=0
failed=()
ok() { echo "ok    $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1"; failed+=("$1"); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
checks_summary() {
  echo "$1: $passed checks passed, ${#failed[@]} failed"
  if [ ${#failed[@]} -gt 0 ]; then
    printf '%s: FAILED: %s\n' "$1" "${failed[@]}" >&2
    exit 1
  fi
}
