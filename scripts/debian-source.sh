# shellcheck shell=bash
# debian-source.sh: sourced by the scripts that build a dependency for mingw-w64 from Debian 12's
# own source package (scripts/build-windows-agent.sh: cJSON and curl), never run by itself.
#
#   debian_source PACKAGE PARENT FILE
#     prints the directory of PACKAGE's unpacked source that holds FILE (a path relative to
#     the source root, e.g. cJSON.c or CMakeLists.txt). The source is fetched with
#     `apt-get source PACKAGE` into PARENT once; a later call finds it there and fetches
#     nothing. When no deb-src entry is configured, one for bookworm main is added first (apt
#     state is the only thing written outside PARENT). Needs root or sudo for that, and
#     dpkg-dev. Exits the calling script, with apt's log on stderr, when the fetch fails.

# as_root COMMAND...: runs COMMAND as root (through sudo when not root).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# deb_src_configure: adds a deb-src line for bookworm main unless one is configured.
deb_src_configure() {
  if grep -rqsE '^[[:space:]]*(deb-src|Types:.*deb-src)' /etc/apt/sources.list \
       /etc/apt/sources.list.d/; then
    return 0
  fi
  echo "debian-source: adding a deb-src line for bookworm (apt-get source needs one)" >&2
  # apt refuses a source whose Signed-By differs from the binary entry for the same archive,
  # so the line names the keyring the existing entries use, if they name one.
  local keyring options
  keyring=$(sed -n 's/^Signed-By:[[:space:]]*\(\/[^[:space:]]*\).*/\1/p' \
            /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
  options=${keyring:+"[signed-by=$keyring] "}
  echo "deb-src ${options}http://deb.debian.org/debian bookworm main" |
    as_root tee /etc/apt/sources.list.d/vigil-src.list >/dev/null
}

# source_dir_holding PARENT FILE: the unpacked source directory under PARENT holding FILE.
source_dir_holding() {
  local d
  for d in "$1"/*/; do
    [ -f "$d$2" ] && { printf '%s\n' "${d%/}"; return 0; }
  done
  return 0
}

debian_source() {
  local package=$1 parent=$2 file=$3 dir
  dir=$(source_dir_holding "$parent" "$file")
  if [ -n "$dir" ]; then
    printf '%s\n' "$dir"
    return 0
  fi
  deb_src_configure
  as_root apt-get update -q >/dev/null
  rm -rf "$parent" && mkdir -p "$parent"
  if ! (cd "$parent" && apt-get source -q "$package" >"$parent.log" 2>&1); then
    cat "$parent.log" >&2
    echo "debian-source: apt-get source $package failed" >&2
    exit 1
  fi
  dir=$(source_dir_holding "$parent" "$file")
  [ -n "$dir" ] || { echo "debian-source: no $file in the $package source" >&2; exit 1; }
  printf '%s\n' "$dir"
}
