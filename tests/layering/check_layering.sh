#!/usr/bin/env bash
# Layering rule (STYLE.md): agent/core and collector/presence build without libcurl, Poco::Net
# or OS headers. Fails, naming file and line, on any #include of such a header there.
# Usage: check_layering.sh REPO_ROOT
set -u
root=${1:?repo root}
forbidden='curl/|Poco/Net/|Poco/Data/|windows\.h|winsock|ws2tcpip|iphlpapi|unistd\.h|fcntl\.h|sys/|netinet/|arpa/|netdb\.h|ifaddrs\.h|pthread\.h|signal\.h|systemd/|CoreFoundation|SystemConfiguration|IOKit|mach/|dlfcn\.h|poll\.h|termios\.h'
status=0 checked=0
for dir in agent/core collector/presence; do
  [ -d "$root/$dir" ] || { echo "layering: $dir is missing"; status=1; continue; }
  while IFS= read -r -d '' f; do
    checked=$((checked + 1))
    if hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($forbidden)" "$f"); then
      while IFS= read -r h; do echo "layering violation: ${f#$root/}:$h"; done <<<"$hits"
      status=1
    fi
  done < <(find "$root/$dir" -type f \( -name '*.h' -o -name '*.cc' \) -print0)
done
[ "$checked" -gt 0 ] || { echo "layering: no sources found"; exit 1; }
[ $status = 0 ] && echo "layering: $checked files in agent/core and collector/presence are free of OS, curl and Poco::Net headers"
exit $status
