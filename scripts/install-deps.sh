#!/usr/bin/env bash
# Installs what building Vigil needs, from Debian 12's own packages only.
# Usage: scripts/install-deps.sh [--test] [--windows]
#   (no flag)  what the Linux build needs
#   --test     adds what the test suite needs
#   --windows  what the Windows cross build and its tests under wine need
#              (scripts/windows-cross-test.sh); without --test, instead of the Linux libraries
# Runs as root (or through sudo when available). Safe to run again.
set -euo pipefail

test=false windows=false
for arg in "$@"; do
  case "$arg" in
    --test) test=true ;;
    --windows) windows=true ;;
    *) echo "install-deps: unknown argument $arg" >&2; exit 2 ;;
  esac
done

packages=()
if [ "$windows" = false ] || [ "$test" = true ]; then
  packages+=(
    build-essential cmake pkg-config ca-certificates curl
    libpoco-dev libpq-dev libcurl4-openssl-dev libssl-dev libcjson-dev libsystemd-dev
    libboost-test-dev
    # the collector's build converts docs/openapi.yaml to JSON and embeds both
    python3 python3-yaml
    # IANA time zones from /usr/share/zoneinfo (common/time_zone.h), which
    # common_time_zone_test compares with glibc's
    tzdata
  )
fi
if [ "$test" = true ]; then
  # clang and its runtime build the libFuzzer targets; clang-format and git check the layout;
  # clang-tidy checks the sources (scripts/clang-tidy.sh).
  packages+=(clang libclang-rt-14-dev clang-format clang-tidy git)
  # promtool (package prometheus) checks /metrics in integration_metrics_test, and the alert
  # rules and the Grafana dashboard of packaging/ with python3's yaml module
  # (packaging_observability_kit); aiosmtpd is the mail server the email channel is sent to
  # (integration_channels_test, with STARTTLS and AUTH); wrk floods the admin API in
  # scripts/load-test.sh.
  packages+=(prometheus python3-aiosmtpd python3-yaml wrk)
  # libfaketime runs a real agent with its wall clock (only) 10 minutes ahead in
  # integration_agent_clock_skew_test.
  packages+=(faketime)
  # PostgreSQL 15's server: the store tests run on a server of their own (initdb and pg_ctl
  # in a temporary directory, tests/support/postgres_server.h), as do the cluster scenarios.
  packages+=(postgresql-15)
  # HAProxy in front of three collectors: scripts/cluster-demo.sh and its test
  # (integration_cluster_demo_test), which also checks packaging/haproxy/*.cfg with haproxy -c;
  # both read the admin API's answers with jq.
  packages+=(haproxy jq)
  # ip (iproute2) builds the incident lab's office network of namespaces for real agents
  # (tools/fleetsim/site_network.sh, scenario 11-real-site-cut-and-kill).
  packages+=(iproute2)
  # The Linux packages (scripts/package.sh): CPack's DEB (dpkg-shlibdeps) and RPM generators,
  # their linters, systemd-analyze for the units, man-db for lintian's manual page check;
  # debootstrap makes the throwaway root the packages are installed into
  # (scripts/package-lifecycle-test.sh).
  packages+=(dpkg-dev rpm lintian rpmlint systemd man-db debootstrap)
  # The Windows MSI (wixl, msiinfo) and the macOS launchd plist (plistutil, xmllint):
  # scripts/check-installers.sh (shellcheck checks the installers' scripts).
  packages+=(wixl msitools libplist-utils libxml2-utils shellcheck)
  # Node.js and npm run the OpenAPI linter (scripts/lint-openapi.sh); a Node.js that brings its
  # own npm (NodeSource's) is kept as it is.
  packages+=(nodejs)
  command -v npx >/dev/null || packages+=(npm)
  # Debian's Chromium, driven headless by playwright-core (npm, tests/browser/package-lock.json)
  # in the admin console's browser test (tests/browser/console_test.mjs): Playwright's own
  # browser download cannot work on a machine without the internet.
  packages+=(chromium)
fi
if [ "$windows" = true ]; then
  # mingw-w64's posix-threads C++ compiler; 64-bit wine to run the tests; dpkg-dev for
  # `apt-get source cjson`; Boost.Test's headers (compiled for the target by the build).
  packages+=(
    cmake make ca-certificates g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix
    wine wine64 dpkg-dev libboost-test-dev
  )
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
