#!/usr/bin/env bash
# integration_cluster_demo_test: scripts/cluster-demo.sh end to end with the built binaries.
# Checks the HAProxy configurations of packaging/haproxy with `haproxy -c`; starts the demo in
# a temporary directory (PostgreSQL, three collectors, HAProxy, five agents); checks that every
# collector is ready, the 256 shards are split among the three, and the agents are ONLINE
# through HAProxy; kills (-9) the collector that judges the agents and checks, within 60 s,
# that HAProxy took it out, the two others hold all shards, at least 4 agents are ONLINE again
# as the new owner judges them (through HAProxy), and no device_offline alert is open; then
# stops the demo and checks that none of its processes is left.
#
# Usage: cluster_demo_test.sh BIN_DIR   (BIN_DIR holds vigil-collector and vigil-agent)
# Needs PostgreSQL 15's server and HAProxy (scripts/install-deps.sh --test); as root it runs
# PostgreSQL as the user postgres.
set -euo pipefail
bin_dir=$(realpath "${1:?usage: $0 BIN_DIR}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
demo_script=$repo/scripts/cluster-demo.sh
pg_bin=${VIGIL_POSTGRESQL_BINDIR:-/usr/lib/postgresql/15/bin}
started=$SECONDS

for tool in haproxy curl jq python3 openssl "$pg_bin/pg_ctl" "$pg_bin/psql" "$bin_dir/vigil-collector" \
            "$bin_dir/vigil-agent"; do
  command -v "$tool" >/dev/null ||
    { echo "FAIL: $tool is missing (scripts/install-deps.sh --test installs haproxy, jq and postgresql-15)"; exit 1; }
done

demo=$(mktemp -d /tmp/vigil-cluster-demo-test.XXXXXX)
export VIGIL_DEMO_DIR=$demo VIGIL_BIN_DIR=$bin_dir VIGIL_DEMO_PORT=0
as_pg=()
[ "$(id -u)" -ne 0 ] || as_pg=(runuser -u postgres --)

cleanup() {
  local status=$? pid
  if [ $status -ne 0 ]; then
    for log in "$demo"/log/*.log "$demo/postgresql/server.log"; do
      [ -f "$log" ] || continue
      echo "---- the end of $log"
      tail -n 25 "$log"
    done
  fi
  bash "$demo_script" --stop >/dev/null 2>&1 || true
  # What --stop missed (it failed, or a process outlived it): by pid, only the processes
  # started with this test's state directory on their command line.
  if [ -f "$demo/postgresql/data/postmaster.pid" ]; then
    (cd "$demo" && "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$demo/postgresql/data" -m immediate stop) \
      >/dev/null 2>&1 || true
  fi
  for pid in $(pgrep -f -- "$demo/" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$demo"
  echo "$([ $status -eq 0 ] && echo PASS || echo FAIL) in $((SECONDS - started)) s"
  exit $status
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
step() { echo "[$((SECONDS - started)) s] $*"; }

# --- the packaging configurations are valid for HAProxy 2.6 -----------------------------------
# With a throwaway certificate and authority where they name files of /etc/haproxy.
step "haproxy -c on packaging/haproxy/*.cfg"
mkdir -p "$demo/check"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=vigil \
  -keyout "$demo/check/key.pem" -out "$demo/check/cert.pem" 2>/dev/null
cat "$demo/check/cert.pem" "$demo/check/key.pem" >"$demo/check/vigil.pem"
for cfg in "$repo"/packaging/haproxy/*.cfg; do
  sed -e "s#/etc/haproxy/certs/vigil.pem#$demo/check/vigil.pem#" \
      -e "s#/etc/haproxy/vigil-collectors-ca.pem#$demo/check/cert.pem#" "$cfg" >"$demo/check/t.cfg"
  haproxy -c -f "$demo/check/t.cfg" >"$demo/check/out" 2>&1 ||
    { cat "$demo/check/out"; fail "haproxy -c refuses $cfg"; }
done

# --- the demo starts ---------------------------------------------------------------------------
step "scripts/cluster-demo.sh --no-build in $demo"
bash "$demo_script" --no-build >"$demo/start.out" 2>&1 || { cat "$demo/start.out"; fail "the demo did not start"; }
grep -q "The Vigil cluster demo is running" "$demo/start.out" || { cat "$demo/start.out"; fail "no summary"; }
grep "^cluster-demo \[" "$demo/start.out"
again=$(bash "$demo_script" --no-build 2>&1) || fail "a second start failed: $again"
grep -q "is running" <<<"$again" || fail "a second start did not say it is running: $again"
pg_port="" lb_port="" stats_port=""  # and collector_port_N, beacon_port_N: the demo's ports
# shellcheck source=/dev/null
. "$demo/demo.env"
lb=http://127.0.0.1:$lb_port
token=$(cat "$demo/collector-1/admin-token")
port_of() { local v="collector_port_$1"; echo "${!v}"; }
metric() {  # metric N NAME: an unlabelled metric of collector-N, empty if it does not answer
  curl -fsS --max-time 5 "http://127.0.0.1:$(port_of "$1")/metrics" 2>/dev/null |
    awk -v m="$2" '$1 == m { print $2; exit }'
}
api() { curl -fsS --max-time 5 -H "Authorization: Bearer $token" "$lb$1"; }
# Agents ONLINE in one answer of the list through HAProxy. The list's status is the answering
# collector's engine's: ONLINE only from the collector that holds the agents' shard, and after
# a takeover only once that collector heard them (until then they are UNKNOWN, in warm-up).
online_in_list() { api "/api/v1/agents?limit=100" 2>/dev/null | jq '[.items[] | select(.status == "ONLINE")] | length' 2>/dev/null || echo 0; }
online=0
at_least() { online=$(online_in_list); [ "$online" -ge "$1" ]; }
# shards_settled N...: the collectors N... all see as many live collectors as given, and
# their shards add up to 256.
shards_settled() {
  local i held sum=0
  for i in "$@"; do
    [ "$(metric "$i" vigil_cluster_live_collectors)" = "$#" ] || return 1
    held=$(metric "$i" vigil_cluster_shards_held)
    [ -n "$held" ] || return 1
    sum=$((sum + held))
  done
  [ "$sum" = 256 ]
}
poll() {  # poll SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

step "every collector ready, the shards split among three"
for i in 1 2 3; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port_of "$i")/readyz")" = 200 ] ||
    fail "collector-$i is not ready"
done
poll 30 shards_settled 1 2 3 ||
  fail "the shards are not split among 3 live collectors: $(for i in 1 2 3; do metric "$i" vigil_cluster_shards_held; done | xargs)"
step "shards held: $(for i in 1 2 3; do echo "collector-$i $(metric "$i" vigil_cluster_shards_held)"; done | xargs)"

step "the agents ONLINE through HAProxy"
ids=$(for i in 1 2 3 4 5; do jq -r .agent_id "$demo/agent-$i/identity.json"; done)
[ "$(echo "$ids" | sort -u | wc -l)" = 5 ] || fail "not 5 enrolled agents: $ids"
for id in $ids; do
  [ "$(api "/api/v1/agents/$id" | jq -r .status)" = ONLINE ] || fail "agent $id is not ONLINE"
done
poll 10 at_least 5 || fail "the list through HAProxy never showed the 5 agents ONLINE"

# --- a collector dies: the one that judges the agents ------------------------------------------
# The agents are all of site `default`: one shard (site id mod 256, docs/cluster.md), whose
# lease names its owner.
site=$(api "/api/v1/agents/$(head -n1 <<<"$ids")" | jq -r .site_id)
owner=$( (cd "$demo" && "${as_pg[@]}" "$pg_bin/psql" -h "$demo/postgresql" -p "$pg_port" -d vigil -Atc \
  "SELECT owner FROM shard_leases WHERE shard = $site % 256") )
case "$owner" in collector-[123]) ;; *) fail "no owner of site $site's shard: '$owner'" ;; esac
victim=${owner#collector-}
survivors=$(for i in 1 2 3; do [ "$i" = "$victim" ] || echo "$i"; done | xargs)
pid=$(cat "$demo/$owner.pid")
step "kill -9 $owner (pid $pid), which holds site $site's shard"
kill -KILL "$pid"
killed_at=$SECONDS

server_down() {  # HAProxy's health checks took the victim out of the rotation
  curl -fsS --max-time 5 "http://127.0.0.1:$stats_port/;csv" |
    awk -F, -v s="$owner" '$1 == "be_collectors" && $2 == s { print $18 }' | grep -q '^DOWN'
}
poll 30 server_down || fail "HAProxy still has $owner in the rotation"
step "HAProxy marked $owner DOWN"
# shellcheck disable=SC2086  # the survivors' numbers, one word each
poll $((60 - (SECONDS - killed_at))) shards_settled $survivors ||
  fail "the survivors do not hold all shards: $(for i in $survivors; do metric "$i" vigil_cluster_shards_held; done | xargs)"
step "collectors $survivors hold all 256 shards"
poll $((60 - (SECONDS - killed_at))) at_least 4 ||
  fail "within 60 s of the kill, fewer than 4 agents ONLINE through HAProxy (last: $online)"
step "$online agents ONLINE through HAProxy, $((SECONDS - killed_at)) s after the kill"
open=$(api "/api/v1/alerts?state=open&kind=device_offline" | jq '.items | length')
[ "$open" = 0 ] || fail "$open device_offline alerts open: $(api "/api/v1/alerts?state=open")"

# --- stop: nothing is left ---------------------------------------------------------------------
step "scripts/cluster-demo.sh --stop"
bash "$demo_script" --stop
left=$(pgrep -af -- "$demo/" || true)
[ -z "$left" ] || fail "processes of the demo outlived --stop: $left"
[ ! -f "$demo/postgresql/data/postmaster.pid" ] || fail "PostgreSQL outlived --stop"
again=$(bash "$demo_script" --stop 2>&1) || fail "a second --stop failed: $again"
grep -q "not running" <<<"$again" || fail "a second --stop did not say it is not running: $again"
