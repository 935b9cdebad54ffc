#!/usr/bin/env bash
# check-plist.sh: validates the launchd plist of vigil-agent on Linux (CI) or macOS.
# Parses it with plistutil (libplist-utils) and xmllint (libxml2-utils), as launchd would read
# it, and asserts the keys the agent's service contract needs: Label com.vigil.agent,
# ProgramArguments [/usr/local/bin/vigil-agent, --config, /Library/Application
# Support/Vigil/agent.conf], RunAtLoad true, KeepAlive.SuccessfulExit false, ThrottleInterval
# 10, StandardErrorPath /Library/Logs/Vigil/agent.log, ProcessType Background, and no key
# given twice. Prints one line per check; exits 1 naming the checks that failed.
#
# Usage: check-plist.sh [FILE]   (default: com.vigil.agent.plist beside this script)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
plist=${1:-$here/com.vigil.agent.plist}

die() { echo "check-plist: $*" >&2; exit 1; }
[ $# -le 1 ] || die "usage: check-plist.sh [FILE]"
[ -f "$plist" ] || die "no such file: $plist"
for tool in plistutil xmllint; do
  command -v "$tool" >/dev/null ||
    die "$tool is not installed (Debian: apt-get install libplist-utils libxml2-utils)"
done

# shellcheck source=installers/check-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../check-lib.sh"

echo "check-plist: $plist"
check "well-formed XML (xmllint --noout)" xmllint --noout --nonet "$plist"
# plistutil reads it as a property list (plist types, not only XML) and converts it to a
# binary plist. Debian 12's plistutil (libplist 2.2) exits 0 even when the conversion fails,
# so its "ERROR: ..." message counts as a failure too.
plist_reads() {
  local err
  err=$(plistutil -i "$plist" -o /dev/null 2>&1) || { echo "      plistutil: $err"; return 1; }
  case "$err" in *ERROR*) echo "      plistutil: $err"; return 1 ;; esac
}
check "a property list plistutil reads (plistutil -i FILE -o /dev/null)" plist_reads

# xp EXPR: the string value of an XPath expression on the plist.
xp() { xmllint --nonet --xpath "$1" "$plist" 2>/dev/null || true; }
# The element that follows <key>NAME</key> in the top-level dict.
value() { printf '/plist/dict/key[.="%s"]/following-sibling::*[1]' "$1"; }

dupes=$(xmllint --nonet --xpath '/plist/dict/key/text()' "$plist" 2>/dev/null | sort | uniq -d)
check "no key is given twice${dupes:+ (twice: $dupes)}" test -z "$dupes"
check "Label is com.vigil.agent" \
  test "$(xp "name($(value Label))")|$(xp "string($(value Label))")" = "string|com.vigil.agent"
args=$(xp "$(value ProgramArguments)/string/text()" | sed 's/$/|/' | tr -d '\n')
echo "      ProgramArguments: $args"
check "ProgramArguments is [/usr/local/bin/vigil-agent, --config, /Library/Application Support/Vigil/agent.conf]" \
  test "$(xp "count($(value ProgramArguments)/*)")|$args" = \
  "3|/usr/local/bin/vigil-agent|--config|/Library/Application Support/Vigil/agent.conf|"
check "RunAtLoad is true" test "$(xp "name($(value RunAtLoad))")" = "true"
check "KeepAlive is a dict with SuccessfulExit false (restart on failure, not after a clean stop)" \
  test "$(xp "name($(value KeepAlive))")|$(xp "count($(value KeepAlive)/key)")|$(xp "name($(value KeepAlive)/key[.='SuccessfulExit']/following-sibling::*[1])")" = "dict|1|false"
check "ThrottleInterval is the integer 10" \
  test "$(xp "name($(value ThrottleInterval))")|$(xp "string($(value ThrottleInterval))")" = "integer|10"
check "StandardErrorPath is /Library/Logs/Vigil/agent.log" \
  test "$(xp "string($(value StandardErrorPath))")" = "/Library/Logs/Vigil/agent.log"
check "ProcessType is Background" test "$(xp "string($(value ProcessType))")" = "Background"

checks_summary check-plist
