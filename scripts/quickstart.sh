#!/usr/bin/env bash
# Vigil's main job on one machine: installs the build dependencies, builds, starts a collector
# on the embedded SQLite store and a local agent enrolled with it, waits until the agent is
# ONLINE, and prints the command that lists agents through the REST API.
#
# Usage: scripts/quickstart.sh          install, build, (re)start collector and agent
#        scripts/quickstart.sh --stop   stop both
# Environment: VIGIL_HOME (default /var/lib/vigil-quickstart), VIGIL_PORT (default 8470).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
home=${VIGIL_HOME:-/var/lib/vigil-quickstart}
port=${VIGIL_PORT:-8470}
collector_dir=$home/collector
agent_dir=$home/agent
log_dir=$home/log
url=http://127.0.0.1:$port

stop_one() {  # stop_one NAME: stops the process in $home/NAME.pid, if running
  local pidfile=$home/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $1 (pid $pid)"
  fi
  rm -f "$pidfile"
}

if [ "${1:-}" = "--stop" ]; then
  stop_one agent
  stop_one collector
  exit 0
fi

bash scripts/install-deps.sh
VIGIL_TARGETS="vigil-collector vigil-agent" bash scripts/build.sh

stop_one agent
stop_one collector
mkdir -p "$collector_dir" "$agent_dir" "$log_dir"
chmod 700 "$home" "$collector_dir" "$agent_dir"

# Detached from this shell (setsid, no inherited stdio), so both keep running after it ends.
setsid "$repo/build/bin/vigil-collector" --data-dir="$collector_dir" \
  --http-address=127.0.0.1 --http-port="$port" \
  >>"$log_dir/collector.log" 2>&1 </dev/null &
echo $! >"$home/collector.pid"

collector_pid=$(cat "$home/collector.pid")
ready=""
for _ in $(seq 150); do
  kill -0 "$collector_pid" 2>/dev/null || break  # it exited: port taken, bad config, ...
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then ready=yes; break; fi
  sleep 0.2
done
if [ -z "$ready" ] || ! kill -0 "$collector_pid" 2>/dev/null; then
  echo "the collector did not start; its log ($log_dir/collector.log) ends with:" >&2
  tail -n 20 "$log_dir/collector.log" >&2
  exit 1
fi

setsid "$repo/build/bin/vigil-agent" --server "$url" \
  --token "$(cat "$collector_dir/enroll-token")" --state-dir "$agent_dir" \
  >>"$log_dir/agent.log" 2>&1 </dev/null &
echo $! >"$home/agent.pid"

list_agents=(curl -fsS -H "Authorization: Bearer $(cat "$collector_dir/admin-token")" "$url/api/v1/agents")
online=""
for _ in $(seq 100); do
  if "${list_agents[@]}" 2>/dev/null | grep -q '"status":"ONLINE"'; then online=yes; break; fi
  sleep 0.2
done
[ -n "$online" ] || {
  echo "the agent did not come ONLINE; its log ($log_dir/agent.log) ends with:" >&2
  tail -n 20 "$log_dir/agent.log" >&2
  exit 1
}

cat <<TXT

Vigil is running.
  collector  $url   pid $(cat "$home/collector.pid")   log $log_dir/collector.log
  agent      pid $(cat "$home/agent.pid")   log $log_dir/agent.log

The agents, as the REST API lists them:
$("${list_agents[@]}")

List them yourself with:
  curl -s -H "Authorization: Bearer \$(cat $collector_dir/admin-token)" $url/api/v1/agents

Stop both with: bash scripts/quickstart.sh --stop
TXT
