#!/bin/bash
# build-pkg.sh: builds the Vigil Agent installer package for macOS (a product archive made
# with pkgbuild and productbuild, which exist only on macOS: on any other system this script
# says so and exits 1; the Linux CI checks the plist with check-plist.sh and these scripts
# with bash -n instead).
#
# Usage: build-pkg.sh --agent PATH [--version X.Y.Z] --out FILE.pkg [--sign IDENTITY]
#   --agent PATH      the vigil-agent binary (a universal arm64+x86_64 build, or one arch)
#   --version X.Y.Z   package version; default: project(vigil VERSION ...) in CMakeLists.txt
#   --out FILE.pkg    the product archive to write
#   --sign IDENTITY   a "Developer ID Installer: ..." identity in the keychain; unsigned
#                     without it (notarize the signed package afterwards with notarytool)
#
# The package (identifier com.vigil.agent) installs
#   /usr/local/bin/vigil-agent                             (root:wheel 0755)
#   /Library/LaunchDaemons/com.vigil.agent.plist           (root:wheel 0644)
#   /usr/local/share/vigil/uninstall.sh                    (root:wheel 0755)
# and runs scripts/preinstall (stops a running agent) and scripts/postinstall (directories,
# enrollment from a configuration profile or enroll.env, launchctl bootstrap).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
identifier=com.vigil.agent

die() { echo "build-pkg: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

agent="" version="" out="" sign=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) [ $# -ge 2 ] || usage; agent=$2; shift 2 ;;
    --version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --sign) [ $# -ge 2 ] || usage; sign=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "build-pkg: unknown argument: $1" >&2; usage ;;
  esac
done

if [ "$(uname -s)" != Darwin ]; then
  die "this builds a macOS installer package with pkgbuild and productbuild, which only macOS has" \
      "(this is $(uname -s)); run it on a Mac or a macOS CI runner"
fi
[ -n "$agent" ] || { echo "build-pkg: --agent is required" >&2; usage; }
[ -n "$out" ] || { echo "build-pkg: --out is required" >&2; usage; }
[ -f "$agent" ] || die "agent binary not found: $agent"
if [ -z "$version" ]; then
  version=$(sed -n 's/^project(vigil VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
  [ -n "$version" ] || die "no 'project(vigil VERSION x.y.z' line in $repo/CMakeLists.txt; pass --version"
fi
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version '$version' is not X.Y.Z"
for tool in pkgbuild productbuild lipo; do
  command -v "$tool" >/dev/null || die "$tool not found (install the Xcode command line tools)"
done

# The binary must be the version packaged, when this Mac can run it.
if reported=$("$agent" --version 2>/dev/null); then
  [ "$reported" = "vigil-agent $version" ] ||
    die "$agent reports '$reported', not 'vigil-agent $version'"
fi
archs=$(lipo -archs "$agent" | tr ' ' ',')
[ -n "$archs" ] || die "lipo could not read the architectures of $agent"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
install -d -m 0755 "$root/usr/local/bin" "$root/usr/local/share/vigil" "$root/Library/LaunchDaemons"
install -m 0755 "$agent" "$root/usr/local/bin/vigil-agent"
install -m 0644 "$here/com.vigil.agent.plist" "$root/Library/LaunchDaemons/$identifier.plist"
install -m 0755 "$here/uninstall.sh" "$root/usr/local/share/vigil/uninstall.sh"
install -d -m 0755 "$work/scripts"
install -m 0755 "$here/scripts/preinstall" "$here/scripts/postinstall" "$work/scripts/"

# --ownership recommended: the payload is owned by root:wheel whoever builds it.
pkgbuild --root "$root" --scripts "$work/scripts" --identifier "$identifier" \
  --version "$version" --install-location / --ownership recommended \
  "$work/vigil-agent-component.pkg"

sed -e "s/@VERSION@/$version/g" -e "s/@ARCHS@/$archs/g" "$here/distribution.xml" \
  >"$work/distribution.xml"
sign_args=()
[ -z "$sign" ] || sign_args=(--sign "$sign")
productbuild --distribution "$work/distribution.xml" --package-path "$work" \
  ${sign_args[@]+"${sign_args[@]}"} "$out"

[ -z "$sign" ] || pkgutil --check-signature "$out"
echo "build-pkg: wrote $out (Vigil Agent $version, $archs${sign:+, signed by $sign})"
