#!/usr/bin/env bash
# Builds the Windows agent, vigil-agent.exe, on Debian 12 with mingw-w64: libcurl (Schannel,
# HTTP/HTTPS only) and cJSON from Debian 12's own source packages, both linked statically, then
# the full agent (VIGIL_BUILD_AGENT_APP=ON) with the CNG crypto backend. The exe imports only
# DLLs that ship with Windows.
#
# Usage: scripts/build-windows-agent.sh [--build-dir DIR] [--tests]
#   --build-dir DIR  the cross build tree (default: build-mingw). The sources are fetched into
#                    DIR/_deps and libcurl is installed into DIR/_deps/curl-install once: a
#                    second run rebuilds neither.
#   --tests          also builds the cross-compiled unit tests (scripts/windows-cross-test.sh
#                    runs them under wine).
# Output: DIR/bin/vigil-agent.exe (as linked) and DIR/vigil-agent.exe (stripped: what the MSI
# and the release ship); the last lines name the stripped exe, its size and the DLLs it
# imports. Runs as root on Debian 12 (or through sudo): installs what it needs with apt-get
# (scripts/install-deps.sh --windows); nothing is written outside DIR but apt's state.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
# shellcheck source=scripts/lib/debian.sh
. scripts/lib/debian.sh

build_dir="build-mingw"
tests=OFF
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) build_dir=${1#--build-dir=}; shift ;;
    --tests) tests=ON; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-windows-agent: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
# took STEP: how long the step that just ended took.
took() { echo "build-windows-agent: $1 took $SECONDS s"; SECONDS=0; }

bash scripts/install-deps.sh --windows
# Both CMake builds (curl's and the agent's) target x86_64-w64-mingw32, optimized.
cross=(-DCMAKE_TOOLCHAIN_FILE="$repo/cmake/toolchains/mingw-w64-x86_64.cmake"
       -DCMAKE_BUILD_TYPE=Release)

# cJSON: built by the project's CMake for the target (VIGIL_CJSON_SOURCE_DIR).
cjson_dir=$(debian_source cjson "$build_dir/_deps/cjson") ||
  { echo "build-windows-agent: no cJSON source" >&2; exit 1; }
echo "build-windows-agent: cJSON source in ${cjson_dir#"$repo"/}"

# libcurl: built and installed once per build tree; CURLConfig.cmake marks a finished install.
curl_prefix="$build_dir/_deps/curl-install"
if [ ! -f "$curl_prefix/lib/cmake/CURL/CURLConfig.cmake" ]; then
  curl_src=$(debian_source curl "$build_dir/_deps/curl") ||
    { echo "build-windows-agent: no curl source" >&2; exit 1; }
  echo "build-windows-agent: building libcurl from ${curl_src#"$repo"/}"
  rm -rf "$build_dir/_deps/curl-build"
  # Only what the agent uses: HTTP and HTTPS through Windows' own TLS (Schannel, with the
  # Windows certificate store, or the ca_file the agent hands it), a static library so the
  # exe carries no curl DLL. Everything else is off, because each is code (and a DLL to
  # ship) the agent never calls:
  #   HTTP_ONLY             no FTP, SMTP, IMAP, LDAP, TELNET, ... (the agent speaks HTTP(S))
  #   CURL_DISABLE_LDAP     LDAP, which would link wldap32
  #   CURL_USE_OPENSSL      Schannel is the TLS backend: no OpenSSL to build or ship
  #   CURL_USE_LIBSSH2      SCP/SFTP
  #   USE_LIBIDN2, USE_WIN32_IDN   international domain names (collectors have ASCII names)
  #   CURL_USE_LIBPSL       public suffix list (for cookies, which the agent does not keep)
  #   CURL_ZLIB, CURL_BROTLI, CURL_ZSTD   compressed answers (the collector's are small JSON)
  #   USE_NGHTTP2           HTTP/2 (one request every few seconds needs no multiplexing)
  #   CURL_CA_BUNDLE, CURL_CA_PATH  none: Schannel uses the Windows store, not a bundle file
  #   BUILD_CURL_EXE, BUILD_TESTING, ENABLE_MANUAL  the curl tool, its tests, its manual
  cmake -S "$curl_src" -B "$build_dir/_deps/curl-build" "${cross[@]}" \
    -DCMAKE_INSTALL_PREFIX="$curl_prefix" -DBUILD_SHARED_LIBS=OFF \
    -DCURL_USE_SCHANNEL=ON -DCURL_USE_OPENSSL=OFF -DHTTP_ONLY=ON -DCURL_DISABLE_LDAP=ON \
    -DCURL_USE_LIBSSH2=OFF -DUSE_LIBIDN2=OFF -DUSE_WIN32_IDN=OFF -DCURL_USE_LIBPSL=OFF \
    -DCURL_ZLIB=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DUSE_NGHTTP2=OFF \
    -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none \
    -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DENABLE_MANUAL=OFF >"$build_dir/_deps/curl-configure.log" 2>&1 ||
    { cat "$build_dir/_deps/curl-configure.log" >&2; echo "build-windows-agent: curl's cmake failed" >&2; exit 1; }
  cmake --build "$build_dir/_deps/curl-build" -j"$(nproc)" --target install >"$build_dir/_deps/curl-build.log" 2>&1 ||
    { tail -n 40 "$build_dir/_deps/curl-build.log" >&2; echo "build-windows-agent: libcurl did not build" >&2; exit 1; }
  took "libcurl (static, Schannel)"
else
  echo "build-windows-agent: libcurl already installed in ${curl_prefix#"$repo"/}"
fi

cmake -S . -B "$build_dir" "${cross[@]}" \
  -DVIGIL_BUILD_TESTS="$tests" \
  -DVIGIL_BUILD_COLLECTOR=OFF \
  -DVIGIL_BUILD_AGENT_APP=ON \
  -DVIGIL_CRYPTO_BACKEND=cng \
  -DVIGIL_CJSON_SOURCE_DIR="$cjson_dir" \
  -DCURL_DIR="$curl_prefix/lib/cmake/CURL" \
  -DVIGIL_BOOST_HEADERS=/usr/include/boost >/dev/null
took "configure"

# With --tests, keeps going past a target that does not compile, so every test that does
# still runs (a test whose executable did not build fails in ctest's summary); the exe must
# build either way.
status=0
if [ "$tests" = ON ]; then
  cmake --build "$build_dir" -j"$(nproc)" -- -k || status=1
fi
cmake --build "$build_dir" -j"$(nproc)" --target vigil-agent
x86_64-w64-mingw32-strip -o "$build_dir/vigil-agent.exe" "$build_dir/bin/vigil-agent.exe"
took "build"

dlls=$(x86_64-w64-mingw32-objdump -p "$build_dir/vigil-agent.exe" | sed -n 's/^[[:space:]]*DLL Name: //p' |
       sort -f | tr '\n' ' ')
echo "build-windows-agent: $build_dir/vigil-agent.exe, $(stat -c %s "$build_dir/vigil-agent.exe") bytes stripped, imports: ${dlls% }"
exit $status
