#!/usr/bin/env bash
# Builds the Linux packages of Vigil and checks them: two .deb and two .rpm (vigil-agent,
# vigil-collector) from one build, by CPack (cmake/VigilPackaging.cmake).
#
# Usage: scripts/package.sh [--build-dir DIR] [--version V] [--agent-binary FILE|host]
#                           [--no-lint] [--windows]
#   --build-dir DIR  build tree to package; configured and built here if it has no
#                    CMakeCache.txt. Default: build-pkg, a lean release build (no tests, no
#                    tools) with Debian's hardening flags (dpkg-buildflags, hardening=+all).
#   --agent-binary FILE  the vigil-agent the agent packages hold. Default: the released,
#                    self-contained agent, built by scripts/build-portable-agent.sh into
#                    DIR/portable-agent (a Debian 11 root; static libcurl and OpenSSL);
#                    "host": the one built in DIR against this host's shared libraries.
#   --version V      package version instead of the project's (e.g. 0.1.1, to test an
#                    upgrade); the packages' changelogs get an entry for it.
#   --no-lint        build the packages only.
#   --windows        the Windows agent instead: vigil-agent.exe cross-built with mingw-w64
#                    (scripts/build-windows-agent.sh, in DIR, default build-mingw) and the MSI
#                    around it (installers/windows/build-msi.sh), checked by check-msi.sh
#                    unless --no-lint. Output: DIR/packages/vigil-agent.exe and
#                    DIR/packages/vigil-agent-V-x64.msi. Installs what the cross build needs.
#
# Output: DIR/packages/vigil-agent_V-1_ARCH.deb, vigil-collector_V-1_ARCH.deb,
# vigil-agent-V-1.ARCH.rpm, vigil-collector-V-1.ARCH.rpm; then one line per check:
# lintian (no error or warning that is not overridden), rpmlint (with
# packaging/rpm/rpmlintrc: no error or warning), systemd-analyze verify of both units as
# packaged, systemd-analyze security of both units (exposure at most 3.0, "OK"); with the
# released agent, its self-containment (scripts/check-portable-agent.sh). Exit status 0 only
# if the packages were built and every check passed.
#
# Needs, on Debian 12 as root: the build dependencies (scripts/install-deps.sh) and
# dpkg-dev, rpm, lintian, rpmlint, systemd (systemd-analyze), man-db, and for the released
# agent debootstrap and openssl. It installs nothing on this host (the released agent's build
# fetches Debian source packages and makes its Debian 11 root: scripts/build-portable-agent.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$repo/build-pkg
version=
lint=1
windows=0
agent_binary=

die() {
  echo "package.sh: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a directory"; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --version) [ $# -ge 2 ] || die "--version needs a version"; version=$2; shift 2 ;;
    --version=*) version=${1#*=}; shift ;;
    --agent-binary) [ $# -ge 2 ] || die "--agent-binary needs a file"; agent_binary=$2; shift 2 ;;
    --agent-binary=*) agent_binary=${1#*=}; shift ;;
    --no-lint) lint=0; shift ;;
    --windows) windows=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
if [ -n "$version" ] && ! [[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]]; then
  die "--version '$version': digits first, then digits, letters, '.', '+' or '~' only"
fi

# --- Windows: the exe and the MSI (nothing else) -------------------------------------------
if [ "$windows" = 1 ]; then
  [ "$build_dir" != "$repo/build-pkg" ] || build_dir=$repo/build-mingw
  bash "$repo/scripts/build-windows-agent.sh" --build-dir "$build_dir"
  msi_version=${version:-$(sed -n 's/^project(vigil VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")}
  mkdir -p "$build_dir/packages"
  cp "$build_dir/vigil-agent.exe" "$build_dir/packages/vigil-agent.exe"
  msi=$build_dir/packages/vigil-agent-$msi_version-x64.msi
  bash "$repo/installers/windows/build-msi.sh" --agent-exe "$build_dir/packages/vigil-agent.exe" \
    --version "$msi_version" --out "$msi"
  echo "package: $build_dir/packages/vigil-agent.exe"
  echo "package: $msi"
  [ "$lint" = 1 ] || exit 0
  if bash "$repo/installers/windows/check-msi.sh" "$msi" --version "$msi_version" >"$msi.check.log" 2>&1; then
    printf '%-40s %s  %s\n' "check-msi (the MSI)" PASS "$(tail -n1 "$msi.check.log")"
    exit 0
  fi
  printf '%-40s %s  %s\n' "check-msi (the MSI)" FAIL "see $msi.check.log"
  exit 1
fi

mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
out=$build_dir/packages
umask 022  # the packages' files and directories: 0644 and 0755

# --- the released agent --------------------------------------------------------------------
if [ -z "$agent_binary" ]; then
  echo "== building the released agent (scripts/build-portable-agent.sh)"
  bash "$repo/scripts/build-portable-agent.sh" --build-dir "$build_dir/portable-agent" ||
    die "scripts/build-portable-agent.sh failed"
  agent_binary=$build_dir/portable-agent/bin/vigil-agent
fi
if [ "$agent_binary" = host ]; then
  agent_binary=
else
  [ -f "$agent_binary" ] || die "--agent-binary $agent_binary: no such file"
  agent_binary=$(cd "$(dirname "$agent_binary")" && pwd)/$(basename "$agent_binary")
fi

# --- build ---------------------------------------------------------------------------------
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  echo "== configuring a lean release build in $build_dir"
  cxxflags='' ldflags=''
  if command -v dpkg-buildflags >/dev/null; then
    export DEB_BUILD_MAINT_OPTIONS=hardening=+all
    cxxflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)"
    ldflags=$(dpkg-buildflags --get LDFLAGS)
  fi
  cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_TOOLS=OFF \
    -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
    -DVIGIL_PACKAGE_VERSION="$version" -DVIGIL_AGENT_PREBUILT="$agent_binary" >/dev/null
else
  cmake -S "$repo" -B "$build_dir" -DVIGIL_PACKAGE_VERSION="$version" \
    -DVIGIL_AGENT_PREBUILT="$agent_binary" >/dev/null
fi
echo "== building vigil-agent and vigil-collector"
cmake --build "$build_dir" -j "$(nproc)" --target vigil-agent vigil-collector

# --- packages ------------------------------------------------------------------------------
echo "== cpack (DEB, RPM) into $out"
rm -rf "$out/_CPack_Packages"
rm -f "$out"/vigil-agent[-_]*.deb "$out"/vigil-collector[-_]*.deb \
  "$out"/vigil-agent-*.rpm "$out"/vigil-collector-*.rpm
(cd "$build_dir" && cpack --config CPackConfig.cmake -G "DEB;RPM" -B "$out") \
  >"$out.cpack.log" 2>&1 || { cat "$out.cpack.log" >&2; die "cpack failed"; }
mv "$out.cpack.log" "$out/cpack.log"

pkg_version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build_dir/CPackConfig.cmake")
deb_arch=$(dpkg --print-architecture)
rpm_arch=$(rpm --eval '%{_arch}')
debs=("$out/vigil-agent_${pkg_version}-1_${deb_arch}.deb"
      "$out/vigil-collector_${pkg_version}-1_${deb_arch}.deb")
rpms=("$out/vigil-agent-${pkg_version}-1.${rpm_arch}.rpm"
      "$out/vigil-collector-${pkg_version}-1.${rpm_arch}.rpm")
for f in "${debs[@]}" "${rpms[@]}"; do
  [ -f "$f" ] || die "cpack did not write $f (see $out/cpack.log)"
  echo "package: $f"
done
[ "$lint" = 1 ] || exit 0

# --- checks --------------------------------------------------------------------------------
failed=0
report() {  # report CHECK STATUS DETAIL
  printf '%-40s %s  %s\n' "$1" "$2" "$3"
  [ "$2" = PASS ] || failed=1
}

# lintian: overrides are installed by the packages (packaging/debian/*/lintian-overrides). The
# verdict comes from a run without --show-overrides (with it, overridden warnings count as
# failures); the log, with the overridden hints and their reasons, from a second run.
lintian_log=$out/lintian.log
rc=0
lintian --fail-on error,warning "${debs[@]}" >/dev/null 2>&1 || rc=$?
lintian --display-info --show-overrides "${debs[@]}" >"$lintian_log" 2>&1 || true
count() { grep -c "^$1: " "$lintian_log" || true; }
summary="$(count E) errors, $(count W) warnings, $(count I) info, $(count O) overridden"
summary+=" ($lintian_log)"
grep -E '^(E|W): ' "$lintian_log" || true
if [ "$rc" = 0 ]; then
  report "lintian (2 .deb)" PASS "$summary"
else
  report "lintian (2 .deb)" FAIL "$summary"
fi

# rpmlint: its filters, each with its reason, are in packaging/rpm/rpmlintrc.
rpmlint_log=$out/rpmlint.log
rc=0
rpmlint -r "$repo/packaging/rpm/rpmlintrc" "${rpms[@]}" >"$rpmlint_log" 2>&1 || rc=$?
summary=$(grep -E 'packages? and [0-9]+ specfiles? checked' "$rpmlint_log" | sed 's/^ *//')
grep -E ': (E|W): ' "$rpmlint_log" || true
if [ "$rc" = 0 ] && [[ $summary == *" 0 errors, 0 warnings"* ]]; then
  report "rpmlint (2 .rpm)" PASS "$summary"
else
  report "rpmlint (2 .rpm)" FAIL "${summary:-no summary, see $rpmlint_log}"
fi

# systemd-analyze verify needs every command of a unit to exist: it runs on a root holding
# the two .deb's files, the host's units (targets the units depend on) and sh (the
# collector's ExecReload=). Any output is a failure (unknown keys are only warnings to it).
vroot=$(mktemp -d)
trap 'rm -rf "$vroot"' EXIT
for f in "${debs[@]}"; do dpkg-deb -x "$f" "$vroot"; done
for f in /usr/lib/systemd/system/*; do
  [ -e "$vroot/usr/lib/systemd/system/${f##*/}" ] || cp -a "$f" "$vroot/usr/lib/systemd/system/"
done
mkdir -p "$vroot/usr/bin"
cp "$(readlink -f /bin/sh)" "$vroot/usr/bin/sh"
ln -s usr/bin "$vroot/bin"
man_opt=()
command -v man >/dev/null || man_opt=(--man=no)
rc=0
verify_out=$(MANPATH=$vroot/usr/share/man systemd-analyze verify "${man_opt[@]}" \
  --root="$vroot" vigil-agent.service vigil-collector.service 2>&1) || rc=$?
if [ "$rc" = 0 ] && [ -z "$verify_out" ]; then
  report "systemd-analyze verify (2 units)" PASS "no finding"
else
  echo "$verify_out"
  report "systemd-analyze verify (2 units)" FAIL "findings above (exit status $rc)"
fi

# systemd-analyze security: exposure 0.0 (best) to 10.0; at most 3.0 is "OK".
for unit in vigil-agent vigil-collector; do
  rc=0
  sec_out=$(systemd-analyze security --offline=yes --threshold=30 \
    "$repo/packaging/systemd/$unit.service" 2>&1) || rc=$?
  level=$(sed -n 's/^.*Overall exposure level for [^:]*: //p' <<<"$sec_out")
  if [ "$rc" = 0 ] && [ -n "$level" ]; then
    report "systemd-analyze security $unit" PASS "exposure $level (threshold 3.0)"
  else
    report "systemd-analyze security $unit" FAIL "exposure ${level:-unknown} (threshold 3.0)"
  fi
done

# The released agent: only the C library and libsystemd, an old enough glibc, rpm's
# automatic requirements (scripts/check-portable-agent.sh, one line per check).
# Built here: it also runs in the Debian 11 root it was built in.
run=()
if [ "$agent_binary" = "$build_dir/portable-agent/bin/vigil-agent" ]; then
  run=(--run "$build_dir/portable-agent/root" "$build_dir/bin/vigil-collector")
fi
if [ -n "$agent_binary" ]; then
  bash "$repo/scripts/check-portable-agent.sh" "$out" "${run[@]}" || failed=1
fi

exit "$failed"
