#!/usr/bin/env bash
# check-installers.sh: the CI check of the Windows and macOS installers and the store
# manifests, on Debian 12 (needs wixl, msitools, libplist-utils, libxml2-utils; uses
# gcc-mingw-w64-x86-64-posix, shellcheck and ruby when they are installed).
#
#   1. builds the MSI (installers/windows/build-msi.sh) around a STAND-IN vigil-agent.exe into
#      BUILD_DIR/installers/: there is no Windows build of the agent on Linux (the release
#      exe comes from MSVC and vcpkg), so the stand-in is a small program that only prints
#      "stand-in for the MSI table check" (built with x86_64-w64-mingw32-gcc when installed,
#      else a text file). The MSI is named ...-stand-in.msi and only its tables are checked;
#   2. checks its tables (installers/windows/check-msi.sh);
#   3. checks the launchd plist (installers/macos/check-plist.sh);
#   4. runs bash -n (and shellcheck, when installed) on every installer shell script, xmllint
#      on the XML files, ruby -c on the Homebrew formula (when ruby is installed);
#   5. runs the version test (tests/packaging/check_versions.sh).
# Prints one line per check (details in BUILD_DIR/installers/*.log); exits 1 if any failed.
#
# Usage: scripts/check-installers.sh [BUILD_DIR]   (default: build, relative to the repository)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build=${1:-build}
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

# 1. The stand-in vigil-agent.exe and the MSI around it.
stand_in="$out/vigil-agent-stand-in.exe"
msi="$out/vigil-agent-$version-x64-stand-in.msi"
rm -f "$stand_in" "$msi"
if command -v x86_64-w64-mingw32-gcc >/dev/null; then
  cat >"$out/stand-in.c" <<'EOF'
/* NOT vigil-agent: a stand-in so that CI on Linux can build the MSI and check its tables.
   The release MSI holds the real vigil-agent.exe (MSVC + vcpkg build). */
#include <stdio.h>
int main(void) {
  fputs("stand-in for the MSI table check: this is not vigil-agent\n", stderr);
  return 1;
}
EOF
  run stand-in-exe x86_64-w64-mingw32-gcc -O2 -s -o "$stand_in" "$out/stand-in.c"
  echo "      $stand_in: a stand-in Windows program (x86_64-w64-mingw32-gcc) that only prints" \
       "\"stand-in for the MSI table check\"; the release MSI holds the real vigil-agent.exe"
else
  printf '%s\n' "stand-in for the MSI table check: this is not vigil-agent.exe (not even a program)." \
    "The release MSI holds the real vigil-agent.exe (MSVC + vcpkg build)." >"$stand_in"
  echo "      $stand_in: a text file standing in for vigil-agent.exe (no mingw-w64 compiler" \
       "here); the release MSI holds the real vigil-agent.exe"
fi
if [ -f "$stand_in" ]; then
  run build-msi bash installers/windows/build-msi.sh --agent-exe "$stand_in" --version "$version" --out "$msi"
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
echo "check-installers: all checks passed (MSI built around the stand-in: $msi)"
