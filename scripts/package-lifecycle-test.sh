#!/usr/bin/env bash
# The Linux packages' life in a throwaway Debian 12 root (debootstrap), never on this machine:
#   1. install vigil-collector.deb and start its unit's ExecStart by hand (no systemd runs in
#      the root) as its system user;
#   2. install vigil-agent.deb through installers/linux/install.sh with VIGIL_SERVER_URL and
#      VIGIL_ENROLL_TOKEN set: the postinst
#      enrolls it; the admin edits /etc/vigil/agent.conf; the unit's ExecStart, started by
#      hand as the agent's user, must show ONLINE through the REST API;
#   3. upgrade to the same package with a higher version: same agent id, the admin's
#      agent.conf unchanged, ONLINE again;
#   4. remove it: the collector records the agent retired and raises no offline alert for it,
#      while a control agent killed at the same moment does get its alert (so the wait was long
#      enough for one); purge removes its state and configuration.
# Prints one line per check; exits non-zero on the first failure.
#
# Usage: scripts/package-lifecycle-test.sh PACKAGE_DIR [UPGRADE_PACKAGE_DIR]
#   PACKAGE_DIR holds vigil-agent_*.deb and vigil-collector_*.deb; UPGRADE_PACKAGE_DIR holds a
#   vigil-agent_*.deb of a higher version (scripts/package.sh --version). Without it, the
#   upgrade is the same agent package rebuilt with the next patch version (dpkg-deb): the same
#   files and maintainer scripts, which is what an upgrade must keep working.
# Runs as root (chroot, mounts). The base root is cached in /var/tmp/vigil-package-root.tar
# (VIGIL_ROOT_CACHE); the root itself is removed at the end (VIGIL_KEEP_ROOT=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/debian.sh
. scripts/lib/debian.sh

packages=$(cd "${1:?give the package directory}" && pwd)
agent_deb=$(ls "$packages"/vigil-agent_*.deb | head -n1)
collector_deb=$(ls "$packages"/vigil-collector_*.deb | head -n1)
cache=${VIGIL_ROOT_CACHE:-/var/tmp/vigil-package-root.tar}
[ "$(id -u)" -eq 0 ] || { echo "package-lifecycle-test: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "package-lifecycle-test: needs debootstrap" >&2; exit 1; }

started=$SECONDS
check() { echo "lifecycle: ok   $* ($((SECONDS - started)) s)"; }
fail() {
  echo "lifecycle: FAIL $*" >&2
  for log in "$root"/var/tmp/*.log; do
    [ -f "$log" ] && { echo "--- ${log#$root} (last lines)" >&2; tail -n 15 "$log" >&2; }
  done
  exit 1
}

# --- The root ----------------------------------------------------------------------------------
if [ ! -f "$cache" ]; then
  echo "lifecycle: debootstrap --variant=minbase bookworm (once; cached in $cache)"
  debian_root_tarball bookworm "$cache" || exit 1
fi
root=$(mktemp -d /var/tmp/vigil-package-root.XXXXXX)
cleanup() {
  local p r
  for p in /proc/[0-9]*; do  # everything still running inside the root
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [ "$r" = "$root" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  sleep 0.5
  umount -l "$root/proc" "$root/dev" "$root/tmp" 2>/dev/null || true
  if [ "${VIGIL_KEEP_ROOT:-0}" = 1 ]; then echo "lifecycle: root kept at $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT
tar -C "$root" -xf "$cache"
chmod 0755 "$root"  # mktemp's 0700 (also restored by tar): the system's / inside
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
mkdir -p "$root/var/tmp/packages"
cp "$agent_deb" "$collector_deb" "$root/var/tmp/packages/"
if [ -n "${2:-}" ]; then
  cp "$(ls "$2"/vigil-agent_*.deb | head -n1)" "$root/var/tmp/packages/upgrade.deb"
else
  # 0.1.0-1 -> 0.1.1-1: the upstream version's last number plus one.
  version=$(dpkg-deb -f "$agent_deb" Version)
  upstream=${version%-*}
  next="${upstream%.*}.$((${upstream##*.} + 1))-${version##*-}"
  unpacked=$root/var/tmp/upgrade-package  # goes with the root, whatever happens
  dpkg-deb -R "$agent_deb" "$unpacked"
  sed -i "s/^Version: .*/Version: $next/" "$unpacked/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$unpacked" "$root/var/tmp/packages/upgrade.deb" >/dev/null
  rm -rf "$unpacked"
fi
check "root ready in $root"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
apt_in_root() { in_root DEBIAN_FRONTEND=noninteractive "$@"; }

# The unit's ExecStart, User and EnvironmentFile, as systemd would use them.
unit_value() { sed -n "s/^$2=//p" "$root/lib/systemd/system/$1.service" \
  "$root/usr/lib/systemd/system/$1.service" 2>/dev/null | head -n1; }
# start_unit NAME [EXTRA ARGS...]: runs the unit's ExecStart in the root as its user, in the
# background, logging to /var/tmp/NAME.log in the root; prints the pid.
start_unit() {
  local name=$1 exec user envfile envs=()
  shift
  exec=$(unit_value "$name" ExecStart)
  user=$(unit_value "$name" User)
  envfile=$(unit_value "$name" EnvironmentFile)
  envfile=${envfile#-}
  [ -n "$exec" ] && [ -n "$user" ] || fail "$name.service names no ExecStart or User"
  if [ -n "$envfile" ] && [ -f "$root$envfile" ]; then
    mapfile -t envs < <(grep -E '^[A-Z_]+=' "$root$envfile")
  fi
  # StateDirectory= is systemd's: made here as systemd makes it.
  local state
  state=$(unit_value "$name" StateDirectory)
  if [ -n "$state" ]; then
    mkdir -p "$root/var/lib/$state"
    in_root chown "$user:" "/var/lib/$state"
    chmod "$(unit_value "$name" StateDirectoryMode || echo 0755)" "$root/var/lib/$state"
  fi
  # shellcheck disable=SC2086 # ExecStart is split into words as systemd splits it
  setsid chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    "${envs[@]}" setpriv --reuid="$user" --regid="$user" --init-groups $exec "$@" \
    >>"$root/var/tmp/$name.log" 2>&1 </dev/null &
  echo $!
}

# --- 1. The collector, from its package ----------------------------------------------------
apt_in_root apt-get update -q >"$root/var/tmp/apt.log" 2>&1 || fail "apt-get update in the root"
apt_in_root apt-get install -y -q --no-install-recommends \
  "/var/tmp/packages/$(basename "$collector_deb")" >>"$root/var/tmp/apt.log" 2>&1 \
  || fail "apt-get install vigil-collector"
in_root id vigil-collector >/dev/null || fail "no system user vigil-collector"
# Tenants' time zones (business hours, availability reports) come from tzdata, a dependency.
in_root test -f /usr/share/zoneinfo/Europe/Berlin || fail "no tzdata after installing vigil-collector"
check "vigil-collector installed ($(in_root dpkg-query -W -f='${Version}' vigil-collector))"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
beacon_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
# Short presence timings, so that an offline verdict comes within seconds.
collector_pid=$(start_unit vigil-collector --http-address=127.0.0.1 --http-port="$port" \
  -D beacon.port="$beacon_port" -D heartbeat.intervalSeconds=2 \
  -D presence.confirmationWindowSeconds=2 -D presence.tickIntervalMs=200 \
  -D store.flushIntervalMs=200)
for _ in $(seq 100); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  kill -0 "$collector_pid" 2>/dev/null || fail "the collector exited"
  sleep 0.2
done
curl -fsS "$url/readyz" >/dev/null || fail "the collector is not ready"
data=$root/var/lib/vigil/collector
[ -f "$data/enroll-token" ] && [ -f "$data/admin-token" ] || fail "no tokens in $data"
[ "$(in_root stat -c %U /var/lib/vigil/collector/vigil.db)" = vigil-collector ] || fail "the database is not the collector's"
token=$(cat "$data/enroll-token")
admin=$(cat "$data/admin-token")
check "collector running from its unit's ExecStart as vigil-collector on $url"

api() { curl -fsS -H "Authorization: Bearer $admin" "$url$1"; }
# agent_field ID FIELD: one field of an agent in the REST API ("" if absent).
agent_field() {
  api "/api/v1/agents/$1" | python3 -c "import json,sys; v=json.load(sys.stdin).get('$2'); print('' if v is None else v)"
}
wait_status() {  # wait_status ID STATUS SECONDS
  for _ in $(seq $(($3 * 5))); do
    [ "$(agent_field "$1" status 2>/dev/null)" = "$2" ] && return 0
    sleep 0.2
  done
  return 1
}
identity_id() { python3 -c "import json; print(json.load(open('$1'))['agent_id'])"; }

# --- 2. The agent: silent enrollment at install ----------------------------------------------
# Through the one-line install script, given the package file (a host without a repository).
cp installers/linux/install.sh "$root/var/tmp/install.sh"
in_root env VIGIL_SERVER_URL="$url" VIGIL_ENROLL_TOKEN="$token" \
  sh /var/tmp/install.sh --package "/var/tmp/packages/$(basename "$agent_deb")" \
  >"$root/var/tmp/agent-install.log" 2>&1 || fail "install.sh --package vigil-agent"
identity=$root/var/lib/vigil/agent/identity.json
[ -f "$identity" ] || fail "the postinst did not enroll (no identity.json)"
[ "$(in_root stat -c %U /var/lib/vigil/agent/identity.json)" = vigil-agent ] || fail "identity.json is not vigil-agent's"
agent_id=$(identity_id "$identity")
grep -q "$agent_id" "$root/var/tmp/agent-install.log" || fail "the install did not say which agent"
! grep -q "$token" "$root/var/tmp/agent-install.log" || fail "the install printed the token"
check "vigil-agent installed and enrolled as $agent_id by its postinst"

# The admin's own settings (kept across the upgrade below).
printf '\n# set by the admin\nmin_interval_s = 2\nstart_delay_max_s = 0\n' >>"$root/etc/vigil/agent.conf"
config_sum=$(sha256sum <"$root/etc/vigil/agent.conf")
agent_pid=$(start_unit vigil-agent)
wait_status "$agent_id" ONLINE 30 || fail "agent $agent_id not ONLINE"
check "agent ONLINE through the REST API (started from its unit's ExecStart as vigil-agent)"

# A control agent, outside the package, to prove the offline alert comes when it should.
mkdir -p "$root/var/tmp/control"
in_root vigil-agent enroll --server "$url" --token "$token" --state-dir /var/tmp/control \
  --config /dev/null >"$root/var/tmp/control-enroll.log" 2>&1 || fail "control agent enroll"
control_id=$(identity_id "$root/var/tmp/control/identity.json")
setsid chroot "$root" /usr/bin/vigil-agent --state-dir /var/tmp/control --config /dev/null \
  -D min_interval_s=2 -D start_delay_max_s=0 -D peer_witness=false \
  >>"$root/var/tmp/control.log" 2>&1 </dev/null &
control_pid=$!
wait_status "$control_id" ONLINE 30 || fail "control agent $control_id not ONLINE"

# --- 3. Upgrade -----------------------------------------------------------------------------
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
apt_in_root apt-get install -y -q /var/tmp/packages/upgrade.deb >"$root/var/tmp/upgrade.log" 2>&1 \
  || fail "upgrade"
new_version=$(in_root dpkg-query -W -f='${Version}' vigil-agent)
[ "$new_version" != "$(dpkg-deb -f "$agent_deb" Version)" ] || fail "the version did not change"
[ "$(identity_id "$identity")" = "$agent_id" ] || fail "the upgrade changed the agent's id"
[ "$(sha256sum <"$root/etc/vigil/agent.conf")" = "$config_sum" ] || fail "the upgrade changed agent.conf"
agent_pid=$(start_unit vigil-agent)
sleep 1
wait_status "$agent_id" ONLINE 30 || fail "agent not ONLINE after the upgrade"
count=$(api /api/v1/agents | python3 -c "import json,sys; print(len(json.load(sys.stdin)['items']))")
[ "$count" = 2 ] || fail "$count agents after the upgrade (expected the agent and the control)"
check "upgraded to $new_version: same agent $agent_id, agent.conf kept, ONLINE"

# --- 4. Removal: retired, no alert ------------------------------------------------------------
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
kill -KILL "$control_pid"
apt_in_root apt-get remove -y -q vigil-agent >"$root/var/tmp/remove.log" 2>&1 || fail "apt-get remove"
[ -n "$(agent_field "$agent_id" retired_at)" ] || fail "the collector did not record $agent_id retired"
[ ! -f "$identity" ] || fail "identity.json left after the removal"
check "removed: the collector records $agent_id retired"
# The control agent's offline alert shows the wait is long enough for an alert to come.
alerts_of() {
  api "/api/v1/alerts?agent_id=$1" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['items']))"
}
waited=0
until [ "$(alerts_of "$control_id")" -ge 1 ]; do
  [ $waited -lt 60 ] || fail "the killed control agent got no offline alert within 60 s"
  sleep 1; waited=$((waited + 1))
done
sleep "$waited"  # as long again
[ "$(alerts_of "$agent_id")" = 0 ] || fail "an alert was raised for the retired agent"
check "no alert for the retired agent ${waited} s + ${waited} s after the removal (control agent alerted after ${waited} s)"

apt_in_root apt-get purge -y -q vigil-agent >"$root/var/tmp/purge.log" 2>&1 || fail "apt-get purge"
[ ! -e "$root/var/lib/vigil/agent" ] || fail "purge left /var/lib/vigil/agent"
[ ! -e "$root/etc/vigil/agent.conf" ] || fail "purge left /etc/vigil/agent.conf"
check "purged: state and configuration gone"
echo "lifecycle: all checks passed in $((SECONDS - started)) s"
