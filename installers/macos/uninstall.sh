#!/bin/bash
# uninstall.sh: removes the Vigil Agent package from this Mac. The package installs this
# script as /usr/local/share/vigil/uninstall.sh; an MDM can also run it as a script payload.
#
# Usage: sudo /usr/local/share/vigil/uninstall.sh [--purge]
#
# 1. Stops the agent: launchctl bootout system/com.vigil.agent (the agent says goodbye).
# 2. Runs `vigil-agent retire` (with --purge when given --purge): the collector records the
#    agent as retired, so no offline alert follows, and the agent deletes its identity
#    (with --purge, all of its state).
# 3. Removes /usr/local/bin/vigil-agent, /Library/LaunchDaemons/com.vigil.agent.plist,
#    /usr/local/share/vigil, and the package receipt (pkgutil --forget com.vigil.agent).
# 4. Keeps /Library/Application Support/Vigil (agent.conf, state) and /Library/Logs/Vigil,
#    unless --purge is given and the retirement succeeded; then both are deleted.
#
# Exit status: 0 done; 75 the agent is removed but the collector was unreachable, so it is not
# retired: its identity is kept and the agent's message says how an admin retires it through
# the collector's API; 1 the agent is removed but `vigil-agent retire` failed otherwise, or an
# error stopped the uninstall (the message says which); 2 usage.
set -euo pipefail

label=com.vigil.agent
agent=/usr/local/bin/vigil-agent
plist=/Library/LaunchDaemons/$label.plist
support="/Library/Application Support/Vigil"
conf="$support/agent.conf"
logs=/Library/Logs/Vigil
share=/usr/local/share/vigil

say() { echo "vigil-agent uninstall: $*"; }
die() { say "ERROR: $*" >&2; exit 1; }
usage() { echo "usage: sudo $0 [--purge]" >&2; exit 2; }

purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) purge=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "vigil-agent uninstall: unknown argument: $1" >&2; usage ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  if [ "$purge" = 1 ]; then die "run it as root: sudo $0 --purge"; fi
  die "run it as root: sudo $0"
fi
[ "$(uname -s)" = Darwin ] || die "this uninstalls the macOS package; on this system there is nothing to do"

# 1. Stop.
if launchctl print "system/$label" >/dev/null 2>&1; then
  say "stopping $label"
  launchctl bootout "system/$label" || die "launchctl bootout system/$label failed; the agent still runs"
fi

# 2. Retire (only after the agent has stopped: it must not send another heartbeat).
retire_status=0
if [ -x "$agent" ]; then
  args=(retire)
  [ ! -f "$conf" ] || args+=(--config "$conf")
  [ "$purge" = 0 ] || args+=(--purge)
  say "telling the collector that this agent is retired: $agent ${args[*]}"
  set +e
  "$agent" "${args[@]}"
  retire_status=$?
  set -e
  case $retire_status in
    0) say "retired" ;;
    75) say "the collector is unreachable: the agent is not retired and keeps its identity" \
            "(see the message above to retire it through the API); going on" ;;
    *) say "vigil-agent retire failed (exit $retire_status); going on" ;;
  esac
else
  say "$agent is missing: the collector cannot be told; retire the agent through its API"
  retire_status=1
fi

# 3. Remove the package's files and its receipt.
rm -f "$agent" "$plist"
rm -rf "$share"
if pkgutil --pkg-info "$label" >/dev/null 2>&1; then
  pkgutil --forget "$label" >/dev/null
fi
say "removed $agent, $plist, $share and the package receipt"

# 4. State and logs.
if [ "$purge" = 1 ] && [ "$retire_status" = 0 ]; then
  rm -rf "$support" "$logs"
  say "removed $support and $logs"
else
  say "kept $support (agent.conf, state) and $logs"
fi
case $retire_status in
  0) exit 0 ;;
  75) exit 75 ;;
  *) exit 1 ;;
esac
