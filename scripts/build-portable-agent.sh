#!/usr/bin/env bash
# Builds the released Linux agent: vigil-agent inside a Debian 11 (bullseye) root, linked
# statically with OpenSSL 3, libcurl (HTTP/HTTPS only) and cJSON built from Debian 12's source
# packages, and with libstdc++ and libgcc; dynamically with the C library and libsystemd only.
# It then needs glibc 2.28 or newer only (the GLIBC_ versions it names, printed at the end), so
# it starts on RHEL/Alma/Rocky 8 and 9, Debian 11, Ubuntu 20.04, SUSE 15 SP3 and newer
# (docs/platforms.md).
#
# Usage: scripts/build-portable-agent.sh [--build-dir DIR]   (default: build-portable)
# Output: DIR/bin/vigil-agent (stripped) and DIR/bin/vigil-agent.debug (its debugging
# information, named by its .gnu_debuglink). Prints how long each step took
# and, last, the binary's size, its NEEDED libraries and the highest GLIBC_ version it needs.
#
# Runs as root on Debian 12 (debootstrap, chroot, mounts); needs debootstrap and dpkg-dev
# (`apt-get source`). Writes only DIR, the cache below and apt's state. Cached, so a second run
# only rebuilds what changed:
#   - the bullseye root with the build tools, as a tarball in VIGIL_PORTABLE_CACHE
#     (default /var/tmp/vigil-portable-agent), unpacked once into DIR/root;
#   - the Debian 12 sources of openssl, curl and cjson (`apt-get source` on this host) in
#     DIR/root/deps/src;
#   - OpenSSL and libcurl built and installed in DIR/root/deps/prefix, also kept as a tarball in
#     VIGIL_PORTABLE_CACHE named after their source versions and this recipe;
#   - the agent's own build tree DIR/root/build (the repository is bind-mounted at /src in the
#     root while it builds, read-only: a `rm -rf DIR` after a killed run cannot reach it).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/debian.sh
. "$repo/scripts/lib/debian.sh"

build_dir=$repo/build-portable
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-portable-agent: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "build-portable-agent: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-portable-agent: needs debootstrap" >&2; exit 1; }
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
cache=${VIGIL_PORTABLE_CACHE:-/var/tmp/vigil-portable-agent}
root=$build_dir/root
log=$build_dir/logs
mkdir -p "$log"

start=$SECONDS
last=$start
phase() {  # prints how long the step that just ended took
  echo "build-portable-agent: $1 ($((SECONDS - last)) s)"
  last=$SECONDS
}
die() {
  echo "build-portable-agent: $*" >&2
  exit 1
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# run_logged NAME COMMAND...: runs COMMAND in the root, its output in DIR/logs/NAME.log
# (printed, its end, if it fails).
run_logged() {
  local name=$1
  shift
  in_root "$@" >"$log/$name.log" 2>&1 || { tail -n 30 "$log/$name.log" >&2; die "$name failed"; }
}

# --- The Debian 11 root ---------------------------------------------------------------------
# gcc 10, cmake 3.18 and Debian 11's libsystemd-dev; perl runs OpenSSL's Configure.
debian_root_tarball bullseye "$cache/bullseye-build-root.tar" \
  g++ make cmake perl pkg-config libsystemd-dev || die "cannot make the bullseye root"
if [ ! -f "$root/etc/debian_version" ]; then
  mkdir -p "$root"
  tar -C "$root" -xf "$cache/bullseye-build-root.tar"
  chmod 0755 "$root"
fi
mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
mount -t proc proc "$root/proc" || die "cannot mount /proc in the root"
mounted+=("$root/proc")
phase "Debian $(cat "$root/etc/debian_version") root in ${root#"$repo"/}"

# --- Debian 12's sources ------------------------------------------------------------------------
openssl_src=$(debian_source openssl "$root/deps/src/openssl") || die "no openssl source"
curl_src=$(debian_source curl "$root/deps/src/curl") || die "no curl source"
cjson_src=$(debian_source cjson "$root/deps/src/cjson") || die "no cjson source"
[ -f "$cjson_src/cJSON.c" ] || die "no cJSON.c in $cjson_src"
phase "sources: ${openssl_src##*/}, ${curl_src##*/}, ${cjson_src##*/}"

# --- OpenSSL and libcurl, static --------------------------------------------------------------
# Debian's hardening flags (those of this Debian 12 host; gcc 10 knows them all).
cflags="-O2" cxxflags="-O2" ldflags=""
if command -v dpkg-buildflags >/dev/null; then
  export DEB_BUILD_MAINT_OPTIONS=hardening=+all
  cflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
  cxxflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)"
  ldflags=$(dpkg-buildflags --get LDFLAGS)
  # Not the prefix maps of this directory: the root's paths are its own, and the cache key
  # (below) stays the same wherever the script runs from.
  cflags=$(sed 's/ *-f[a-z]*-prefix-map=[^ ]*//g' <<<"$cflags")
  cxxflags=$(sed 's/ *-f[a-z]*-prefix-map=[^ ]*//g' <<<"$cxxflags")
fi
# One section per function and object, so that the link keeps only what the agent reaches
# (smaller; and OpenSSL's unused BIO_gethostbyname no longer imports gethostbyname).
cflags+=" -ffunction-sections -fdata-sections"
cxxflags+=" -ffunction-sections -fdata-sections"
# OpenSSL: libcrypto and libssl only (no apps, tests, engines, loadable modules), without the
# algorithms and protocols TLS to a collector never uses. OPENSSLDIR is Debian's and Ubuntu's
# (their openssl.cnf and hashed /etc/ssl/certs); on other distributions the agent finds the
# CA bundle itself (agent/transport/system_ca_bundle.h).
openssl_options=(no-shared no-module no-tests no-engine no-dso no-comp no-ssl3 no-dtls no-srp
  no-idea no-mdc2 no-rc5 no-seed no-camellia no-aria no-whirlpool no-sm2 no-sm3 no-sm4)
# libcurl: HTTP and HTTPS over OpenSSL, every optional library off, no built-in CA path.
curl_options=(-DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DHTTP_ONLY=ON
  -DCURL_USE_OPENSSL=ON -DOPENSSL_USE_STATIC_LIBS=ON -DCURL_DISABLE_LDAP=ON -DCURL_USE_LIBPSL=OFF
  -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DUSE_LIBIDN2=OFF -DCURL_ZLIB=OFF -DCURL_BROTLI=OFF
  -DCURL_ZSTD=OFF -DUSE_NGHTTP2=OFF -DCURL_USE_GSSAPI=OFF -DENABLE_MANUAL=OFF
  -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none)
recipe=$(printf '%s\n' "${openssl_options[*]}" "${curl_options[*]}" "$cflags" | sha256sum |
         cut -c1-12)
deps_key="${openssl_src##*/}-${curl_src##*/}-$recipe"
prefix=$root/deps/prefix
if [ "$(cat "$prefix/.key" 2>/dev/null)" != "$deps_key" ]; then
  rm -rf "$prefix"
  mkdir -p "$prefix"
  if [ -f "$cache/deps-$deps_key.tar" ]; then
    tar -C "$prefix" -xf "$cache/deps-$deps_key.tar"
    phase "OpenSSL and libcurl from $cache/deps-$deps_key.tar"
  else
    rm -rf "$root/deps/build" && mkdir -p "$root/deps/build"
    cp -a "$openssl_src" "$root/deps/build/openssl"  # OpenSSL builds in its source tree
    run_logged openssl-configure env CFLAGS="$cflags" LDFLAGS="$ldflags" \
      sh -c 'cd /deps/build/openssl && exec ./Configure "$@"' Configure "linux-$(uname -m)" \
      --prefix=/deps/prefix --libdir=lib --openssldir=/usr/lib/ssl "${openssl_options[@]}"
    run_logged openssl-build make -C /deps/build/openssl -j"$(nproc)" build_libs
    run_logged openssl-install make -C /deps/build/openssl install_dev
    phase "OpenSSL built (static)"
    run_logged curl-configure cmake -S "/deps/src/curl/${curl_src##*/}" -B /deps/build/curl \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/deps/prefix \
      -DCMAKE_C_FLAGS="$cflags" -DOPENSSL_ROOT_DIR=/deps/prefix "${curl_options[@]}"
    run_logged curl-build cmake --build /deps/build/curl -j"$(nproc)"
    run_logged curl-install cmake --install /deps/build/curl
    rm -rf "${prefix:?}/share" "${prefix:?}/bin" "$root/deps/build"
    echo "$deps_key" >"$prefix/.key"
    mkdir -p "$cache"
    tar -C "$prefix" -cf "$cache/deps-$deps_key.tar.part" . &&
      mv "$cache/deps-$deps_key.tar.part" "$cache/deps-$deps_key.tar"
    # Only the current sources' and recipe's build is kept.
    find "$cache" -maxdepth 1 -name 'deps-*.tar' ! -name "deps-$deps_key.tar" -delete
    phase "libcurl built (static, HTTP/HTTPS only)"
  fi
fi

# --- The agent ----------------------------------------------------------------------------------
mkdir -p "$root/src"
mount --bind "$repo" "$root/src" || die "cannot bind-mount the repository in the root"
mounted=("$root/src" "${mounted[@]}")
mount -o remount,bind,ro "$root/src" || die "cannot make /src read-only in the root"
# Configured every time (a second configure takes a second), so the flags here always apply.
# libstdc++ and libgcc static; OpenSSL needs libdl and libpthread after it on the line.
run_logged agent-configure cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVIGIL_BUILD_COLLECTOR=OFF -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_TOOLS=OFF \
  -DVIGIL_CJSON_SOURCE_DIR="/deps/src/cjson/${cjson_src##*/}" \
  -DCMAKE_PREFIX_PATH=/deps/prefix -DOPENSSL_ROOT_DIR=/deps/prefix -DOPENSSL_USE_STATIC_LIBS=ON \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_CXX_FLAGS="$cxxflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$ldflags -static-libstdc++ -static-libgcc -Wl,--gc-sections" \
  -DCMAKE_CXX_STANDARD_LIBRARIES="-ldl -lpthread"
run_logged agent-build cmake --build /build -j"$(nproc)" --target vigil-agent
# Stripped as dh_strip strips an executable; its debugging information beside it.
mkdir -p "$build_dir/bin"
agent=$build_dir/bin/vigil-agent
objcopy --only-keep-debug "$root/build/bin/vigil-agent" "$agent.debug"
strip --remove-section=.comment --remove-section=.note -o "$agent.part" \
  "$root/build/bin/vigil-agent"
objcopy --add-gnu-debuglink="$agent.debug" "$agent.part"
mv "$agent.part" "$agent"
phase "vigil-agent built with gcc $(in_root gcc -dumpfullversion)"

needed=$(objdump -p "$agent" | awk '/NEEDED/{print $2}' | tr '\n' ' ')
glibc=$(objdump -T "$agent" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)
echo "build-portable-agent: $agent: $(stat -c %s "$agent") bytes, NEEDED: ${needed% };" \
  "highest symbol version: $glibc; $((SECONDS - start)) s in all"
