#!/usr/bin/env bash
# Installs what building Vigil needs, from Debian 12's own packages only.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite needs)
# Runs as root (or through sudo when available). Safe to run again.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates curl
  libpoco-dev libcurl4-openssl-dev libssl-dev libcjson-dev libsystemd-dev
  libboost-test-dev
)
if [ "${1:-}" = "--test" ]; then
  # clang and its runtime build the libFuzzer targets; clang-format and git check the layout.
  packages+=(clang libclang-rt-14-dev clang-format git)
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  as_root=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
