#!/usr/bin/env bash
# check-installers.sh: the CI check of the Windows and macOS installers and the store
# manifests, on Debian 12 (needs wixl, msitools, libplist-utils, libxml2-utils; uses
# ruby and shellcheck when they are installed).
#
#   1. builds the MSI (installers/windows/build-msi.sh) around the real vigil-agent.exe into
#      BUILD_DIR/installers/: the exe given with --agent-exe, else the one
#      scripts/build-windows-agent.sh builds in build-mingw (cross-built with mingw-w64,
#      libcurl and cJSON from Debian's sources; kept there, so a second run builds nothing);
#   2. checks its tables (installers/windows/check-msi.sh);
#   3. checks the launchd plist (installers/macos/check-plist.sh);
#   4. runs bash -n (and shellcheck, when installed) on every installer shell script, xmllint
#      on the XML files, ruby -c on the Homebrew formula (when ruby is installed);
#   5. runs the version test (tests/packaging/check_versions.sh).
# Prints one line per check (details in BUILD_DIR/installers/*.log); exits 1 if any failed.
#
# (Installing it and its service under wine is tests/windows/wine_msi_test.cc.)
#
# Usage: scripts/check-installers.sh [BUILD_DIR] [--agent-exe EXE]
#   BUILD_DIR  default: build, relative to the repository
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=build agent_exe=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agent-exe) agent_exe=${2:?--agent-exe needs a file}; shift 2 ;;
    -*) echo "check-installers: unknown option $1" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
out="$build/installers"
mkdir -p "$out"

version=$(sed -n 's/^project(vigil VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || { echo "check-installers: no project version in CMakeLists.txt" >&2; exit 1; }

failed=()
# run NAME COMMAND...: runs COMMAND with its output in $out/NAME.log; one line, ok or FAIL
# (with the end of the log).
run() {
  local name=$1 log="$out/$1.log"
  shift
  if "$@" >"$log" 2>&1; then
    echo "ok    $name"
  else
    echo "FAIL  $name (log: $log)"
    tail -n 20 "$log" | sed 's/^/      /'
    failed+=("$name")
  fi
}
skip() { echo "skip  $1"; }

missing=()
for tool in wixl msibuild msiinfo plistutil xmllint; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-installers: not installed: ${missing[*]} (Debian: apt-get install wixl msitools libplist-utils libxml2-utils)" >&2
  exit 1
fi

# 1. The real vigil-agent.exe and the MSI around it.
msi="$out/vigil-agent-$version-x64.msi"
rm -f "$msi"
if [ -z "$agent_exe" ]; then
  agent_exe="build-mingw/vigil-agent.exe"
  run windows-agent-exe bash scripts/build-windows-agent.sh --build-dir build-mingw
fi
if [ -f "$agent_exe" ]; then
  echo "      $agent_exe: vigil-agent.exe, $(stat -c %s "$agent_exe") bytes"
  run build-msi bash installers/windows/build-msi.sh --agent-exe "$agent_exe" --version "$version" --out "$msi"
fi
if [ -f "$msi" ]; then
  run check-msi bash installers/windows/check-msi.sh "$msi" --version "$version"
else
  echo "FAIL  check-msi (no MSI was built)"
  failed+=(check-msi)
fi

# 2. The launchd plist.
run check-plist bash installers/macos/check-plist.sh installers/macos/com.vigil.agent.plist

# 3. Shell scripts, XML, the Homebrew formula.
scripts=(installers/*.sh installers/linux/install.sh installers/windows/*.sh installers/macos/*.sh
         scripts/build-windows-agent.sh scripts/lib/debian.sh
         installers/macos/scripts/preinstall
         installers/macos/scripts/postinstall scripts/check-installers.sh
         tests/packaging/check_versions.sh)
syntax() { local f; for f in "$@"; do bash -n "$f" || { echo "bash -n: $f"; return 1; }; done; }
run bash-n syntax "${scripts[@]}"
if command -v shellcheck >/dev/null; then
  run shellcheck shellcheck -x "${scripts[@]}"
else
  skip "shellcheck (not installed)"
fi
run xml xmllint --noout --nonet installers/windows/vigil-agent.wxs installers/windows/vigil-agent.wxi \
  installers/macos/distribution.xml packaging/chocolatey/vigil-agent.nuspec
if command -v ruby >/dev/null; then
  run homebrew-formula ruby -c packaging/homebrew/vigil-agent.rb
else
  skip "homebrew-formula: ruby -c (ruby not installed)"
fi

# 4. Versions.
run versions bash tests/packaging/check_versions.sh "$repo"

if [ ${#failed[@]} -gt 0 ]; then
  echo "check-installers: FAILED: ${failed[*]}"
  exit 1
fi
echo "check-installers: all checks passed (MSI built around $agent_exe: $msi)"
