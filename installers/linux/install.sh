#!/bin/sh
# Installs the Vigil agent on a Linux host without a package repository, in one line:
#
#   curl -fsSL https://github.com/vigil-presence/vigil/releases/latest/download/install.sh |
#     sudo VIGIL_SERVER_URL=https://vigil.example.com VIGIL_ENROLL_TOKEN=<token> sh
#
# Picks the package for the host (.deb for Debian/Ubuntu and their kin, .rpm for
# RHEL/Fedora/SUSE and theirs; amd64/x86_64 or arm64/aarch64), downloads it with its SHA256SUMS
# and checks it, then installs it with the system's package manager, which resolves its
# dependencies. The package's own scripts enroll the agent with VIGIL_SERVER_URL and
# VIGIL_ENROLL_TOKEN (or /etc/vigil/enroll.env) and start the service. Run again to upgrade.
#
# Options (after `sh -s --` when piped):
#   --version V        install this version (default: VIGIL_VERSION, else the latest release)
#   --package FILE|URL install this package file instead of downloading one (air-gapped hosts)
#   --dry-run          say what would be installed, install nothing
# Environment: VIGIL_SERVER_URL, VIGIL_ENROLL_TOKEN (passed to the package's scripts),
#   VIGIL_VERSION, VIGIL_DOWNLOAD_BASE (default
#   https://github.com/vigil-presence/vigil/releases/download).
# Exit status: 0 installed; 1 failed (nothing installed); 2 usage or unsupported host.
set -eu

base=${VIGIL_DOWNLOAD_BASE:-https://github.com/vigil-presence/vigil/releases/download}
version=${VIGIL_VERSION:-}
package=
dry_run=0

say() { printf 'vigil install: %s\n' "$*"; }
die() { printf 'vigil install: %s\n' "$2" >&2; exit "$1"; }

while [ $# -gt 0 ]; do
  case $1 in
    --version) [ $# -ge 2 ] || die 2 "--version needs a version"; version=$2; shift 2 ;;
    --package) [ $# -ge 2 ] || die 2 "--package needs a file or URL"; package=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) sed -n '2,23p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die 2 "unknown argument $1 (try --help)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die 2 "run as root (sudo ... sh)"
[ "$(uname -s)" = Linux ] || die 2 "this script is for Linux; see docs/install.md for Windows and macOS"

# --- Which package --------------------------------------------------------------------------
family=
if [ -r /etc/os-release ]; then
  # ID and ID_LIKE name the distribution and the ones it derives from.
  ids=$(sed -n 's/^ID=//p; s/^ID_LIKE=//p' /etc/os-release | tr -d '"' | tr ' ' '\n')
  for id in $ids; do
    case $id in
      debian | ubuntu) family=deb; break ;;
      rhel | fedora | centos | rocky | almalinux | suse | opensuse*) family=rpm; break ;;
    esac
  done
fi
if [ -z "$family" ]; then
  if command -v dpkg >/dev/null 2>&1; then family=deb
  elif command -v rpm >/dev/null 2>&1; then family=rpm
  else die 2 "neither dpkg nor rpm found: no package for this host"; fi
fi
case $(uname -m) in
  x86_64 | amd64) deb_arch=amd64 rpm_arch=x86_64 ;;
  aarch64 | arm64) deb_arch=arm64 rpm_arch=aarch64 ;;
  *) die 2 "no package for architecture $(uname -m)" ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

fetch() {  # fetch URL FILE
  if command -v curl >/dev/null 2>&1; then curl -fsSL --proto '=https,file' -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
  else die 1 "needs curl or wget to download $1"; fi
}

if [ -n "$package" ]; then
  case $package in
    *.deb) family=deb ;;
    *.rpm) family=rpm ;;
    *) die 2 "--package must name a .deb or .rpm" ;;
  esac
  file=$work/$(basename "$package")
  case $package in
    *://*) fetch "$package" "$file" || die 1 "cannot download $package" ;;
    *) cp "$package" "$file" || die 1 "cannot read $package" ;;
  esac
  say "installing $(basename "$package") (given)"
else
  if [ -z "$version" ]; then
    # The latest release's tag, from the redirect of /releases/latest.
    latest=$(curl -fsSLI -o /dev/null -w '%{url_effective}' \
      "${base%/download}/latest" 2>/dev/null || true)
    version=${latest##*/v}
    case $version in
      [0-9]*) ;;
      *) die 1 "cannot find the latest release; give --version" ;;
    esac
  fi
  if [ "$family" = deb ]; then name=vigil-agent_${version}-1_${deb_arch}.deb
  else name=vigil-agent-${version}-1.${rpm_arch}.rpm; fi
  file=$work/$name
  say "downloading $name"
  fetch "$base/v$version/$name" "$file" || die 1 "cannot download $base/v$version/$name"
  fetch "$base/v$version/SHA256SUMS" "$work/SHA256SUMS" || die 1 "cannot download SHA256SUMS"
  expected=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$work/SHA256SUMS")
  [ -n "$expected" ] || die 1 "SHA256SUMS does not list $name"
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$actual" = "$expected" ] || die 1 "$name does not match its SHA-256 in SHA256SUMS"
fi

if [ -z "${VIGIL_SERVER_URL:-}" ] && [ ! -f /var/lib/vigil/agent/identity.json ] &&
   [ ! -f /etc/vigil/enroll.env ]; then
  say "VIGIL_SERVER_URL and VIGIL_ENROLL_TOKEN are not set: the agent is installed but not"
  say "enrolled; enroll it later with: vigil-agent enroll --server URL --token TOKEN"
fi
if [ "$dry_run" = 1 ]; then
  say "would install $file with $family tools"
  exit 0
fi

# The package managers pass the environment on to the package's scripts.
export VIGIL_SERVER_URL="${VIGIL_SERVER_URL:-}" VIGIL_ENROLL_TOKEN="${VIGIL_ENROLL_TOKEN:-}"
if [ "$family" = deb ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "$file" || die 1 "apt-get could not install $(basename "$file")"
elif command -v dnf >/dev/null 2>&1; then
  dnf install -y "$file" || die 1 "dnf could not install $(basename "$file")"
elif command -v zypper >/dev/null 2>&1; then
  zypper --non-interactive install "$file" || die 1 "zypper could not install $(basename "$file")"
elif command -v yum >/dev/null 2>&1; then
  yum install -y "$file" || die 1 "yum could not install $(basename "$file")"
else
  die 1 "no apt-get, dnf, zypper or yum to install $(basename "$file")"
fi
say "installed; status: systemctl status vigil-agent"
