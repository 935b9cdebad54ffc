#!/usr/bin/env bash
# Layering rules (STYLE.md), checked on every #include of the source tree:
#  1. agent/core and collector/presence build without libcurl, Poco::Net or OS headers.
#  2. Each collector folder includes only the collector folders below it (the table below),
#     so the folder names are the module seams: e.g. the store knows nothing of webhook
#     delivery or the admin API, the admin services know no HTTP.
#  3. Some folders also keep out external headers (Poco::Net, curl, the database).
#  4. common/ includes nothing of the agent or the collector.
# Fails, naming file and line, on any include that goes the wrong way, and on a collector
# folder that has no rule (a new folder must be placed in the table).
# Usage: check_layering.sh REPO_ROOT
set -u
root=${1:?repo root}

# Rule 2: folder -> the collector folders it may include (besides itself; common/ always).
declare -A may_include=(
  [core]=""
  [events]="core"
  [presence]=""
  [store]="core events"
  [ingest]="core store"
  [monitor]="core store ingest presence"
  [cluster]="core store ingest monitor presence"
  [notify]="core events store"
  [admin]="core events store ingest monitor presence notify"
  [console]=""
  [http]="core store ingest monitor presence admin console"
  [listener]="core store ingest monitor http"
  [app]="core events store ingest monitor presence notify admin http listener cluster"
)

# Rules 1 and 3: folder -> external headers it must not include (an extended regex).
os_headers='windows\.h|winsock|ws2tcpip|iphlpapi|unistd\.h|fcntl\.h|sys/|netinet/|arpa/|netdb\.h|ifaddrs\.h|pthread\.h|signal\.h|systemd/|CoreFoundation|SystemConfiguration|IOKit|mach/|dlfcn\.h|poll\.h|termios\.h'
declare -A forbidden=(
  [agent/core]="curl/|Poco/Net/|Poco/Data/|$os_headers"
  [collector/presence]="curl/|Poco/Net/|Poco/Data/|$os_headers"
  [collector/core]="curl/|Poco/|$os_headers"
  [collector/events]="curl/|Poco/Net/|Poco/Data/"
  [collector/admin]="curl/|Poco/Net/|Poco/Data/"
  [collector/ingest]="curl/|Poco/Net/|Poco/Data/"
  [collector/monitor]="curl/|Poco/Net/|Poco/Data/"
  [collector/cluster]="curl/|Poco/|$os_headers"
  [collector/console]="curl/|Poco/|$os_headers"
)

include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*'
status=0 checked=0
violation() {
  echo "layering violation: $1"
  status=1
}
sources_of() { find "$root/$1" -type f \( -name '*.h' -o -name '*.cc' \) -print0; }

for dir in "${!forbidden[@]}"; do
  [ -d "$root/$dir" ] || { violation "$dir is missing"; continue; }
  while IFS= read -r -d '' f; do
    while IFS= read -r h; do
      violation "${f#"$root"/}:$h ($dir must not include this header)"
    done < <(grep -nE "$include_re[<\"](${forbidden[$dir]})" "$f")
  done < <(sources_of "$dir")
done

for path in "$root"/collector/*/; do
  folder=$(basename "$path")
  if [ -z "${may_include[$folder]+set}" ]; then
    violation "collector/$folder has no rule in tests/layering/check_layering.sh"
    continue
  fi
  allowed=" $folder ${may_include[$folder]} "
  while IFS= read -r -d '' f; do
    checked=$((checked + 1))
    while IFS=: read -r line text; do
      target=$(sed -nE 's|.*"collector/([^/"]+)/.*|\1|p' <<<"$text")
      [[ "$allowed" == *" $target "* ]] && continue
      violation "${f#"$root"/}:$line: $text (collector/$folder may include only: ${may_include[$folder]:-common})"
    done < <(grep -nE "$include_re\"collector/" "$f")
  done < <(sources_of "collector/$folder")
done

while IFS= read -r -d '' f; do
  checked=$((checked + 1))
  while IFS= read -r h; do
    violation "${f#"$root"/}:$h (common/ must not include the agent or the collector)"
  done < <(grep -nE "$include_re\"(agent|collector)/" "$f")
done < <(sources_of common)

[ "$checked" -gt 0 ] || { echo "layering: no sources found"; exit 1; }
[ $status = 0 ] && echo "layering: $checked files of collector/ and common/ include only what lies below them; agent/core and collector/presence are free of OS, curl and Poco::Net headers"
exit $status
