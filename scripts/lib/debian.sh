# shellcheck shell=bash
# Shell functions shared by the scripts that need Debian roots and Debian source packages
# (sourced, not run). Each runs as root (or through sudo when the caller sets as_root=(sudo)),
# on a Debian 12 host, and writes only where its arguments say (and apt's state).
#
#   debian_mirror
#       Prints the host's Debian mirror (deb822 sources, Debian 12's default, or a one-line
#       sources.list), or http://deb.debian.org/debian.
#   debian_root_tarball SUITE TARBALL [PACKAGE...]
#       Unless TARBALL exists: debootstrap --variant=minbase SUITE from that mirror, installs
#       the PACKAGEs in it with apt-get (--no-install-recommends), and writes the root as
#       TARBALL (atomically). The log of a failure is printed to stderr.
#   debian_source PACKAGE PARENT
#       Unless PARENT already holds PACKAGE's source: `apt-get source PACKAGE` (Debian 12's,
#       with Debian's patches applied) into PARENT, after adding a deb-src line for bookworm if
#       apt has none. Prints the unpacked source directory.

if ! declare -p as_root >/dev/null 2>&1; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
fi

debian_mirror() {
  local mirror
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
           head -n1 || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null ||
                               true)
  echo "${mirror:-http://deb.debian.org/debian}"
}

debian_root_tarball() {
  local suite=$1 tarball=$2 build
  shift 2
  [ -f "$tarball" ] && return 0
  mkdir -p "$(dirname "$tarball")"
  build=$(mktemp -d /var/tmp/vigil-debootstrap.XXXXXX)
  if ! { debootstrap --variant=minbase "$suite" "$build" "$(debian_mirror)" >"$build.log" 2>&1 &&
         { [ $# -eq 0 ] || chroot "$build" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
             >>"$build.log" 2>&1; }; }; then
    tail -n 20 "$build.log" >&2
    rm -rf "$build" "$build.log"
    return 1
  fi
  chroot "$build" apt-get clean
  tar -C "$build" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$build" "$build.log"
}

debian_source() {
  local package=$1 parent=$2 dir keyring options
  dir=$(find "$parent" -mindepth 2 -maxdepth 2 -name debian -type d -printf '%h\n' 2>/dev/null |
        head -n1 || true)
  if [ -z "$dir" ]; then
    if ! grep -rqsE '^[[:space:]]*(deb-src|Types:.*deb-src)' /etc/apt/sources.list \
         /etc/apt/sources.list.d/; then
      echo "adding a deb-src line for bookworm (apt-get source needs one)" >&2
      # apt refuses a source whose Signed-By differs from the binary entry for the same
      # archive, so the line names the keyring the existing entries use, if they name one.
      keyring=$(sed -n 's/^Signed-By:[[:space:]]*\(\/[^[:space:]]*\).*/\1/p' \
                /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
      options=${keyring:+"[signed-by=$keyring] "}
      echo "deb-src ${options}http://deb.debian.org/debian bookworm main" |
        "${as_root[@]}" tee /etc/apt/sources.list.d/vigil-src.list >/dev/null
      "${as_root[@]}" apt-get update -q >/dev/null
    fi
    rm -rf "$parent" && mkdir -p "$parent"
    # A source that apt's lists do not know yet (a fresh host): update once, then again.
    if ! (cd "$parent" && apt-get source -q "$package" >"$parent.log" 2>&1); then
      "${as_root[@]}" apt-get update -q >/dev/null
      if ! (cd "$parent" && apt-get source -q "$package" >"$parent.log" 2>&1); then
        cat "$parent.log" >&2
        echo "apt-get source $package failed" >&2
        return 1
      fi
    fi
    dir=$(find "$parent" -mindepth 2 -maxdepth 2 -name debian -type d -printf '%h\n' | head -n1)
    [ -n "$dir" ] || { echo "no unpacked source of $package in $parent" >&2; return 1; }
  fi
  echo "$dir"
}
