#!/usr/bin/env bash
# Vigil's second main job on one machine: a cluster. Installs what it needs, builds, and starts
# on loopback a PostgreSQL 15 server of its own, three collectors sharing its database
# (collector-1..3, docs/cluster.md), HAProxy in front of them (its configuration generated from
# packaging/haproxy/vigil-cluster.cfg) and five agents that report through HAProxy. It waits
# until every collector is ready and the agents are ONLINE, prints how to look at the cluster
# and how to watch a failover, and returns: everything runs on in the background.
#
# Usage: scripts/cluster-demo.sh              install, build, start (says so if running)
#        scripts/cluster-demo.sh --no-build   start with the binaries already built
#        scripts/cluster-demo.sh --status     what runs, the collectors' shards, the agents
#        scripts/cluster-demo.sh --stop       stop all of it (agents, HAProxy, collectors,
#                                             PostgreSQL); the state stays for the next start
#        scripts/cluster-demo.sh --start-collector N
#                                             start collector-N again (after a kill -9: it
#                                             takes its name back and shards are rebalanced)
# Environment:
#   VIGIL_DEMO_DIR   state: databases, logs, pids, tokens (default /var/tmp/vigil-cluster-demo)
#   VIGIL_DEMO_PORT  HAProxy's port on 127.0.0.1 (default 8480; 0: a free port)
#   VIGIL_BIN_DIR    where vigil-collector and vigil-agent are; set, nothing is installed or
#                    built (like --no-build); default: build/bin (or $VIGIL_BUILD_DIR/bin)
#   VIGIL_POSTGRESQL_BINDIR  PostgreSQL's server programs (default /usr/lib/postgresql/15/bin)
# Runs as root (the collectors and agents then run as root, PostgreSQL as the user postgres,
# which refuses root) or as any user (everything runs as that user).
set -euo pipefail
demo=$(realpath -m "${VIGIL_DEMO_DIR:-/var/tmp/vigil-cluster-demo}")
cd "$(dirname "$0")/.."
repo=$(pwd)
lb_port_wanted=${VIGIL_DEMO_PORT:-8480}
pg_bin=${VIGIL_POSTGRESQL_BINDIR:-/usr/lib/postgresql/15/bin}
collectors=3
agents=5
# A short heartbeat interval, so that a failover shows within a minute; no stretching (the
# warm-up after a takeover is one maximum interval).
interval=10
template=$repo/packaging/haproxy/vigil-cluster.cfg
pg_dir=$demo/postgresql
log_dir=$demo/log
env_file=$demo/demo.env

usage="usage: $0 [--no-build | --status | --stop | --start-collector N]"
action=start build=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --stop) action=stop ;;
    --status) action=status ;;
    --no-build) build=no ;;
    --start-collector)
      action=start-collector
      restart=${2:-}
      case "$restart" in [1-9]) [ "$restart" -le "$collectors" ] || restart="" ;; *) restart="" ;; esac
      [ -n "$restart" ] || { echo "$usage" >&2; exit 2; }
      shift
      ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "${VIGIL_BIN_DIR:-}" ]; then
  build=no
  bin_dir=$(realpath -m "$VIGIL_BIN_DIR")
else
  build_dir=${VIGIL_BUILD_DIR:-build}
  case "$build_dir" in /*) ;; *) build_dir=$repo/$build_dir ;; esac
  bin_dir=$build_dir/bin
fi

# PostgreSQL refuses to run as root: as root its programs run as the user postgres (made by
# the postgresql-15 package), otherwise as the caller.
pg_user=$(id -un)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  pg_user=postgres
  as_pg=(runuser -u postgres --)
fi
pg() { (cd "$pg_dir" && "${as_pg[@]}" "$@"); }

# --- processes -------------------------------------------------------------------------------

names() {  # every process the demo starts, in the order --stop stops them
  local i
  for i in $(seq "$agents"); do echo "agent-$i"; done
  echo haproxy
  for i in $(seq "$collectors"); do echo "collector-$i"; done
}

# pid_of NAME: prints the pid of NAME if it runs (its pid file names a live process started
# with this state directory on its command line: a reused pid is not taken for it).
pid_of() {
  local pidfile=$demo/$1.pid pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$demo/" || return 1
  echo "$pid"
}

pg_running() {
  [ -f "$pg_dir/data/postmaster.pid" ] && pg "$pg_bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1
}

running_names() {
  local n
  for n in $(names); do pid_of "$n" >/dev/null && echo "$n"; done
  pg_running && echo postgresql
  return 0
}

# stop_one NAME SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop_one() {
  local name=$1 wait=$2 pid
  if pid=$(pid_of "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((wait * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      echo "killed $name (pid $pid): it did not stop within $wait s of SIGTERM"
    else
      echo "stopped $name (pid $pid)"
    fi
  fi
  rm -f "$demo/$name.pid"
}

stop_all() {
  local i pids=()
  # The agents stop together (each delivers a goodbye notice first), then HAProxy; the
  # collectors stop together, each handing its shards over (docs/operations.md).
  for i in $(seq "$agents"); do stop_one "agent-$i" 10 & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i"; done
  stop_one haproxy 10
  pids=()
  for i in $(seq "$collectors"); do stop_one "collector-$i" 20 & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i"; done
  if pg_running; then
    pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -t 60 -m fast stop >>"$log_dir/postgresql.log" 2>&1
    echo "stopped postgresql"
  fi
}

# start_detached NAME COMMAND...: runs COMMAND in a session of its own, without this shell's
# stdio (it keeps running after the script ends), output appended to log/NAME.log.
start_detached() {
  local name=$1
  shift
  setsid "$@" >>"$log_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$demo/$name.pid"
}

say() { echo "cluster-demo [$((SECONDS - began)) s]: $*"; }

fail() {  # fail NAME MESSAGE: prints MESSAGE and NAME's log tail, stops the demo, exits 1
  echo "$2; $log_dir/$1.log ends with:" >&2
  tail -n 30 "$log_dir/$1.log" >&2 || true
  if [ "$action" = start ]; then
    echo "stopping the demo (its state and logs stay in $demo)" >&2
    stop_all >&2
  fi
  exit 1
}

# pick_ports SPEC...: one free port on 127.0.0.1 per SPEC, a line each, all different. SPEC is
# tcp:N or udp:N: N if it is free, else any free port (N = 0 or empty: any); tcp:N! is N or 0.
pick_ports() {
  python3 - "$@" <<'PY'
import socket, sys
held = []
for spec in sys.argv[1:]:
    kind, _, want = spec.partition(":")
    strict = want.endswith("!")
    want = int(want.rstrip("!") or 0)
    for port in ([want] if strict else [want, 0]):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
        if kind == "tcp":  # as a listener binds it: a port whose old connections linger is free
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        held.append(s)
        print(s.getsockname()[1])
        break
    else:
        print(0)
PY
}

# --- what the demo prints --------------------------------------------------------------------

load_env() {
  [ -f "$env_file" ] || return 1
  # shellcheck source=/dev/null
  . "$env_file"
}

admin_token() { cat "$demo/collector-1/admin-token"; }

api() {  # api PATH: GET through HAProxy with the admin token
  curl -fsS --max-time 5 -H "Authorization: Bearer $(admin_token)" "http://127.0.0.1:$lb_port$1"
}

# The agents' ids (from their state directories) and what the cluster says of each, through
# HAProxy: GET /api/v1/agents/{id} answers on every collector with the verdict of the one that
# judges the agent (the list's status is the answering collector's own engine's, so it shows
# only that collector's agents as judged: docs/cluster.md, "Routing").
agent_ids() {
  local i
  for i in $(seq "$agents"); do
    sed -n 's/.*"agent_id": *"\([^"]*\)".*/\1/p' "$demo/agent-$i/identity.json" 2>/dev/null || true
  done
}

agent_statuses() {  # one line per enrolled agent: ID STATUS
  local id
  for id in $(agent_ids); do
    echo "$id $(api "/api/v1/agents/$id" 2>/dev/null | jq -r '.status // "?"' 2>/dev/null || echo '?')"
  done
}

online_count() { agent_statuses | grep -c ' ONLINE$' || true; }

# judge: the collector that holds the agents' shard (they are all of one site; a site is in
# shard site_id mod 256, whose lease names its owner: docs/cluster.md, "Shards and leases").
judge() {
  local id site
  id=$(agent_ids | head -n1)
  [ -n "$id" ] || return 0
  site=$(api "/api/v1/agents/$id" 2>/dev/null | jq -r '.site_id // empty' 2>/dev/null || true)
  [ -n "$site" ] || return 0
  pg "$pg_bin/psql" -h "$pg_dir" -p "$pg_port" -d vigil -Atc \
    "SELECT owner FROM shard_leases WHERE shard = $site % 256" 2>/dev/null || true
}

metric() {  # metric PORT NAME: the value of an unlabelled metric of the collector at PORT
  curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v m="$2" '$1 == m { print $2; exit }'
}

status() {
  local n pid i port
  if ! load_env; then echo "the cluster demo has never run here ($demo)"; return 0; fi
  echo "cluster demo in $demo"
  for n in $(names); do
    if pid=$(pid_of "$n"); then printf '  %-12s running, pid %s\n' "$n" "$pid"
    else printf '  %-12s not running\n' "$n"; fi
  done
  if pg_running; then printf '  %-12s running, port %s\n' postgresql "$pg_port"
  else printf '  %-12s not running\n' postgresql; fi
  for i in $(seq "$collectors"); do
    port=$(collector_port "$i")
    pid_of "collector-$i" >/dev/null || continue
    printf '  collector-%s  http://127.0.0.1:%s  readyz %s, shards held %s, live collectors %s\n' \
      "$i" "$port" \
      "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/readyz" || true)" \
      "$(metric "$port" vigil_cluster_shards_held)" "$(metric "$port" vigil_cluster_live_collectors)"
  done
  if pid_of haproxy >/dev/null; then
    echo "  HAProxy      http://127.0.0.1:$lb_port   (its view of the collectors: http://127.0.0.1:$stats_port/)"
    echo "  agents through HAProxy (judged by $(judge)):"
    agent_statuses | sed 's/^/    /'
  fi
}

# shard_split: "collector-1 N, collector-2 N, ..." (vigil_cluster_shards_held of each, ? for a
# collector that does not answer); shard_sum SPLIT: their sum.
shard_split() {
  local i held out=""
  for i in $(seq "$collectors"); do
    held=$(metric "$(collector_port "$i")" vigil_cluster_shards_held || true)
    out+="collector-$i ${held:-?}, "
  done
  echo "${out%, }"
}
shard_sum() { echo "$1" | tr ',' '\n' | awk '{ s += $2 } END { print s + 0 }'; }

collector_port() { local v="collector_port_$1"; echo "${!v:-}"; }
beacon_port() { local v="beacon_port_$1"; echo "${!v:-}"; }

# start_collector I: collector-I, with its own data directory (tokens, cadence state) and
# properties file; the state is in the shared database, reached with $password.
start_collector() {
  local i=$1 props=$demo/collector-$1.properties
  cat >"$props" <<EOF
# scripts/cluster-demo.sh: collector-$i of the demo cluster (rewritten at each start)
data.dir = $demo/collector-$i
http.address = 127.0.0.1
http.port = $(collector_port "$i")
beacon.port = $(beacon_port "$i")
store.backend = postgresql
store.postgresql.conninfo = host=127.0.0.1 port=$pg_port dbname=vigil user=vigil
store.postgresql.sslMode = disable
cluster.nodeName = collector-$i
heartbeat.intervalSeconds = $interval
heartbeat.maxIntervalSeconds = $interval
logging.format = text
EOF
  PGPASSWORD=$password start_detached "collector-$i" "$bin_dir/vigil-collector" --config-file="$props"
}

wait_ready() {  # wait_ready I...: until each collector's /readyz answers 200
  local i port ready
  for i in "$@"; do
    port=$(collector_port "$i")
    ready=""
    # A collector restarted after a crash waits out its predecessor's announcement (~20 s).
    for _ in $(seq 450); do
      pid_of "collector-$i" >/dev/null || break
      if curl -fs --max-time 2 -o /dev/null "http://127.0.0.1:$port/readyz"; then ready=yes; break; fi
      sleep 0.2
    done
    [ -n "$ready" ] || fail "collector-$i" "collector-$i did not become ready"
  done
}

# --- stop, status ----------------------------------------------------------------------------

if [ "$action" = stop ]; then
  if [ ! -d "$demo" ] || [ -z "$(running_names)" ]; then
    echo "the cluster demo is not running"
    exit 0
  fi
  stop_all
  exit 0
fi
if [ "$action" = status ]; then
  status
  exit 0
fi
if [ "$action" = start-collector ]; then
  if ! load_env || ! pg_running; then
    echo "the cluster demo is not running (start it with: bash scripts/cluster-demo.sh)" >&2
    exit 1
  fi
  if pid=$(pid_of "collector-$restart"); then
    echo "collector-$restart is running (pid $pid)"
    exit 0
  fi
  password=$(cat "$demo/postgresql-password")
  start_collector "$restart"
  wait_ready "$restart"
  echo "collector-$restart is ready again (pid $(pid_of "collector-$restart")); the shards are"
  echo "rebalanced within a few lease rounds: bash scripts/cluster-demo.sh --status"
  exit 0
fi

# --- start -----------------------------------------------------------------------------------

if [ -d "$demo" ] && [ -n "$(running_names)" ]; then
  echo "the cluster demo is running (stop it with: bash scripts/cluster-demo.sh --stop)"
  status
  exit 0
fi

began=$SECONDS
# Whatever fails from here on stops what was started (the state and logs stay).
trap 'echo "cluster-demo: failed; stopping what it started" >&2; stop_all >&2' ERR

if [ "$build" = yes ]; then
  bash scripts/install-deps.sh
  # The cluster's own: PostgreSQL 15's server, HAProxy, and jq to read the API's answers
  # (install-deps.sh --test has them, with much else besides).
  missing=()
  for p in postgresql-15 haproxy jq; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    echo "cluster-demo: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -q
    "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  VIGIL_TARGETS="vigil-collector vigil-agent" bash scripts/build.sh
fi
for tool in "$bin_dir/vigil-collector" "$bin_dir/vigil-agent" "$pg_bin/initdb" "$pg_bin/pg_ctl" \
            "$pg_bin/psql"; do
  [ -x "$tool" ] || { echo "cluster-demo: $tool is missing (build, or install postgresql-15)" >&2; exit 1; }
done
for tool in haproxy curl jq python3 setsid; do
  command -v "$tool" >/dev/null || { echo "cluster-demo: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

mkdir -p "$demo" "$log_dir"
# Others may pass through (PostgreSQL's user to its directory), not read: the collectors'
# directories hold tokens (0700, the collectors see to it), the password file is 0600.
chmod 711 "$demo"
chmod 700 "$log_dir"

# Ports: those of the previous start when they are still free, so its configuration and the
# agents' URL stay valid; HAProxy's is fixed unless VIGIL_DEMO_PORT=0.
load_env || true
specs=("tcp:${pg_port:-}" "tcp:${stats_port:-}")
if [ "$lb_port_wanted" = 0 ]; then specs+=("tcp:${lb_port:-}"); else specs+=("tcp:$lb_port_wanted!"); fi
for i in $(seq "$collectors"); do specs+=("tcp:$(collector_port "$i")" "udp:$(beacon_port "$i")"); done
mapfile -t ports < <(pick_ports "${specs[@]}")
[ "${#ports[@]}" -eq "${#specs[@]}" ] || { echo "cluster-demo: cannot pick ports" >&2; exit 1; }
pg_port=${ports[0]} stats_port=${ports[1]} lb_port=${ports[2]}
if [ "$lb_port" = 0 ]; then
  echo "cluster-demo: port $lb_port_wanted on 127.0.0.1 is taken; set VIGIL_DEMO_PORT (0: any free port)" >&2
  exit 1
fi
for i in $(seq "$collectors"); do
  declare "collector_port_$i=${ports[2 * i + 1]}" "beacon_port_$i=${ports[2 * i + 2]}"
done
{
  echo "# scripts/cluster-demo.sh: the ports of the last start"
  echo "pg_port=$pg_port lb_port=$lb_port stats_port=$stats_port"
  for i in $(seq "$collectors"); do
    echo "collector_port_$i=$(collector_port "$i") beacon_port_$i=$(beacon_port "$i")"
  done
} >"$env_file"

say "starting PostgreSQL, three collectors, HAProxy and $agents agents in $demo"
# PostgreSQL: a server of the demo's own (initdb once), listening on 127.0.0.1 only; its
# superuser is reached through the Unix socket (peer), the collectors' role `vigil` over TCP
# with a password (scram-sha-256), given to them in PGPASSWORD.
if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
  rm -rf "$pg_dir"
  mkdir -p "$pg_dir"
  chown "$pg_user" "$pg_dir"
  chmod 700 "$pg_dir"
  pg "$pg_bin/initdb" -D "$pg_dir/data" -U "$pg_user" --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C >>"$log_dir/postgresql.log" 2>&1 ||
    fail postgresql "initdb failed"
  (umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$demo/postgresql-password")
fi
cat >"$pg_dir/demo.conf" <<EOF
# scripts/cluster-demo.sh (rewritten at each start)
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg_dir'
EOF
chown "$pg_user" "$pg_dir/demo.conf"
grep -q "^include_if_exists = '$pg_dir/demo.conf'" "$pg_dir/data/postgresql.conf" ||
  echo "include_if_exists = '$pg_dir/demo.conf'" | pg tee -a "$pg_dir/data/postgresql.conf" >/dev/null
pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 start \
  >>"$log_dir/postgresql.log" 2>&1 || fail postgresql "PostgreSQL did not start (also see $pg_dir/server.log)"
password=$(cat "$demo/postgresql-password")
pg "$pg_bin/psql" -h "$pg_dir" -p "$pg_port" -d postgres -v ON_ERROR_STOP=1 -q >>"$log_dir/postgresql.log" 2>&1 <<EOF ||
SELECT 'CREATE ROLE vigil LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vigil') \gexec
ALTER ROLE vigil PASSWORD '$password';
SELECT 'CREATE DATABASE vigil OWNER vigil' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'vigil') \gexec
EOF
  fail postgresql "creating the role and database vigil failed"

# collector-1 starts first: its first start generates the admin and enrollment tokens (in the
# database, valid on every collector, and in collector-1/admin-token and enroll-token).
say "PostgreSQL is up on 127.0.0.1:$pg_port"
start_collector 1
wait_ready 1
say "collector-1 is ready"
for i in $(seq 2 "$collectors"); do start_collector "$i"; done
wait_ready $(seq 2 "$collectors")
say "collector-2 and collector-3 are ready"
# The collectors split the 256 shards among themselves over several lease rounds (every 5 s
# the first one hands over up to 32 shards: about 30 s). Wait until the split stays the same
# for longer than a round, so that the agents start with their shard's owner settled.
split="" previous=""
for _ in $(seq 15); do
  split=$(shard_split)
  [ "$split" = "$previous" ] && [ "$(shard_sum "$split")" = 256 ] && break
  previous=$split
  sleep 5.5
done
say "the shards are split: $split"

# HAProxy: the packaging configuration with the demo's addresses. Logs to its standard output
# (log/haproxy.log), no chroot, no user switch, no stats socket, 1,000 connections (a file
# limit of 20,000 would not allow 50,000); plain HTTP on 127.0.0.1.
servers=""
for i in $(seq "$collectors"); do
  servers+="    server collector-$i 127.0.0.1:$(collector_port "$i") check"$'\n'
done
awk -v lb="127.0.0.1:$lb_port" -v stats="127.0.0.1:$stats_port" -v servers="$servers" \
    -v template="$template" '
  BEGIN {
    print "# Generated by scripts/cluster-demo.sh from " template ": do not edit (rewritten at"
    print "# each start)."
  }
  /^[a-z]/ { section = $1 " " $2 }
  section ~ /^global/ && $1 ~ /^(chroot|user|group|stats|log|maxconn)$/ {
    if ($1 == "log") { print "    log stdout format raw local0 info"; n_log++ }
    if ($1 == "maxconn") print "    maxconn 1000"
    next
  }
  section == "frontend fe_vigil" && $1 == "bind" { print "    bind " lb; n_bind++; next }
  section == "listen stats" && $1 == "bind" { print "    bind " stats; n_stats++; next }
  section == "backend be_collectors" && $1 == "server" {
    if (!n_servers++) printf "%s", servers
    next
  }
  { print }
  END {
    if (n_log != 1 || n_bind != 1 || n_stats != 1 || n_servers < 1) {
      print "cluster-demo: " template " has changed: its log, bind or server lines were not found" > "/dev/stderr"
      exit 1
    }
  }' "$template" >"$demo/haproxy.cfg.new"
mv "$demo/haproxy.cfg.new" "$demo/haproxy.cfg"
haproxy -c -q -f "$demo/haproxy.cfg" >>"$log_dir/haproxy.log" 2>&1 ||
  fail haproxy "the generated $demo/haproxy.cfg is not valid"
start_detached haproxy haproxy -db -f "$demo/haproxy.cfg"
lb=http://127.0.0.1:$lb_port
up=""
for _ in $(seq 100); do
  pid_of haproxy >/dev/null || break
  if curl -fs --max-time 2 -o /dev/null "$lb/readyz"; then up=yes; break; fi
  sleep 0.1
done
[ -n "$up" ] || fail haproxy "HAProxy did not answer at $lb"
say "HAProxy is up at $lb"

# Agents: five on this machine, all of site `default`, each with its own state directory,
# reporting through HAProxy. Their LAN peer witness stays on loopback (127.255.255.255).
for i in $(seq "$agents"); do
  mkdir -p "$demo/agent-$i"
  chmod 700 "$demo/agent-$i"
  echo "# scripts/cluster-demo.sh: everything is on the command line" >"$demo/agent-$i.conf"
  start_detached "agent-$i" "$bin_dir/vigil-agent" --server "$lb" \
    --token "$(cat "$demo/collector-1/enroll-token")" --state-dir "$demo/agent-$i" \
    --config "$demo/agent-$i.conf" -D peer_broadcast=127.255.255.255
done
online=0
for _ in $(seq 150); do
  online=$(online_count)
  [ "$online" -ge "$agents" ] && break
  for i in $(seq "$agents"); do pid_of "agent-$i" >/dev/null || fail "agent-$i" "agent-$i exited"; done
  sleep 0.2
done
[ "$online" -ge "$agents" ] || fail agent-1 "only $online of $agents agents came ONLINE"
say "the agents are ONLINE"

token_file=$demo/collector-1/admin-token
judge=$(judge)
[ -n "$judge" ] || judge=collector-2
metrics_lines=""
for i in $(seq "$collectors"); do
  metrics_lines+="  curl -s http://127.0.0.1:$(collector_port "$i")/metrics | grep -E '^vigil_cluster_(shards_held|live_collectors) '   # collector-$i"$'\n'
done
cat <<TXT

The Vigil cluster demo is running (state, pids and logs in $demo).
  HAProxy     $lb   pid $(pid_of haproxy)   its view of the collectors: http://127.0.0.1:$stats_port/
$(for i in $(seq "$collectors"); do
    printf '  collector-%s http://127.0.0.1:%s   pid %s   log %s\n' "$i" "$(collector_port "$i")" \
      "$(pid_of "collector-$i")" "$log_dir/collector-$i.log"
  done)
  PostgreSQL  127.0.0.1:$pg_port, database vigil   log $pg_dir/server.log
  agents      $agents, pids $(for i in $(seq "$agents"); do printf '%s ' "$(pid_of "agent-$i")"; done)  logs $log_dir/agent-N.log

Admin token (valid on every collector: it is in the shared database): $token_file
  $(admin_token)

The agents, through HAProxy (each collector answers with the judging collector's verdict):
$(agent_statuses | sed 's/^/  /')

List them yourself:
  curl -s -H "Authorization: Bearer \$(cat $token_file)" $lb/api/v1/agents
(the list's status is the answering collector's own view: only the collector that holds the
agents' shard shows them judged; GET $lb/api/v1/agents/ID gives the verdict on any collector)

Shards held by each collector (256 in all; all five agents are in site default's shard):
$metrics_lines
Watch a failover: kill the collector that judges the agents, $judge, without a word,
  kill -9 \$(cat $demo/$judge.pid)
then see HAProxy take it out of the rotation (its page above), the survivors take its shards
after the 15 s lease term (the metrics above), the agents stay ONLINE (heartbeats meanwhile
answered 503 owner_unreachable are sent again) and no alert opens:
  curl -s -H "Authorization: Bearer \$(cat $token_file)" "$lb/api/v1/alerts?state=open"
  bash scripts/cluster-demo.sh --status
and bring it back (it takes its name back once the dead one's announcement has run out,
at most ~20 s; the shards are rebalanced): bash scripts/cluster-demo.sh --start-collector ${judge#collector-}

Stop it all with: bash scripts/cluster-demo.sh --stop
TXT
