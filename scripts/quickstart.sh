#!/usr/bin/env bash
# Vigil's main job on one machine: installs the build dependencies, builds, starts a collector
# on the embedded SQLite store and a local agent enrolled with it, waits until the agent is
# ONLINE, and prints the command that lists agents through the REST API and the admin
# console's address.
#
# Usage: scripts/quickstart.sh          install, build, (re)start collector and agent
#        scripts/quickstart.sh --tls    the same over HTTPS: a CA and a server certificate
#                                       (ECDSA P-256) made with openssl in $VIGIL_HOME/tls
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
tls_dir=$home/tls
tls=""
case "${1:-}" in
  --tls) tls=yes ;;
  --stop | "") ;;
  *) echo "usage: $0 [--tls | --stop]" >&2; exit 2 ;;
esac
if [ -n "$tls" ]; then url=https://127.0.0.1:$port; else url=http://127.0.0.1:$port; fi

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

# --tls: a CA of this machine and a certificate for 127.0.0.1 signed by it, ECDSA P-256 (a
# handshake costs the collector a fraction of an RSA one: docs/operations.md, "TLS"). Made
# once; kept across restarts so the agent goes on trusting the same CA.
collector_tls=()
curl_tls=()
agent_tls=()
if [ -n "$tls" ]; then
  if [ ! -f "$tls_dir/server.pem" ]; then
    mkdir -p "$tls_dir"
    chmod 700 "$tls_dir"
    (
      umask 077
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=Vigil quickstart CA" -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.pem"
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$tls_dir/server.key" -out "$tls_dir/server.csr"
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' \
        >"$tls_dir/server.ext"
      openssl x509 -req -in "$tls_dir/server.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca.key" \
        -CAcreateserial -days 825 -extfile "$tls_dir/server.ext" -out "$tls_dir/server.pem"
    ) 2>>"$log_dir/openssl.log"
    chmod 600 "$tls_dir/ca.key" "$tls_dir/server.key"
    chmod 644 "$tls_dir/ca.pem" "$tls_dir/server.pem"
  fi
  collector_tls=(--define=tls.certificateFile="$tls_dir/server.pem"
    --define=tls.privateKeyFile="$tls_dir/server.key")
  curl_tls=(--cacert "$tls_dir/ca.pem")
  agent_tls=(--ca-file "$tls_dir/ca.pem")
fi

# Detached from this shell (setsid, no inherited stdio), so both keep running after it ends.
setsid "$repo/build/bin/vigil-collector" --data-dir="$collector_dir" \
  --http-address=127.0.0.1 --http-port="$port" "${collector_tls[@]}" \
  >>"$log_dir/collector.log" 2>&1 </dev/null &
echo $! >"$home/collector.pid"

collector_pid=$(cat "$home/collector.pid")
ready=""
for _ in $(seq 150); do
  kill -0 "$collector_pid" 2>/dev/null || break  # it exited: port taken, bad config, ...
  if curl -fsS "${curl_tls[@]}" "$url/readyz" >/dev/null 2>&1; then ready=yes; break; fi
  sleep 0.2
done
if [ -z "$ready" ] || ! kill -0 "$collector_pid" 2>/dev/null; then
  echo "the collector did not start; its log ($log_dir/collector.log) ends with:" >&2
  tail -n 20 "$log_dir/collector.log" >&2
  exit 1
fi

setsid "$repo/build/bin/vigil-agent" --server "$url" "${agent_tls[@]}" \
  --token "$(cat "$collector_dir/enroll-token")" --state-dir "$agent_dir" \
  >>"$log_dir/agent.log" 2>&1 </dev/null &
echo $! >"$home/agent.pid"

list_agents=(curl -fsS "${curl_tls[@]}" -H "Authorization: Bearer $(cat "$collector_dir/admin-token")" "$url/api/v1/agents")
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

query_tls=""
[ -z "$tls" ] || query_tls="--cacert $tls_dir/ca.pem "
cat <<TXT

Vigil is running.
  collector  $url   pid $(cat "$home/collector.pid")   log $log_dir/collector.log
  agent      pid $(cat "$home/agent.pid")   log $log_dir/agent.log

The agents, as the REST API lists them:
$("${list_agents[@]}")

List them yourself with:
  curl -s ${query_tls}-H "Authorization: Bearer \$(cat $collector_dir/admin-token)" $url/api/v1/agents

Or open the admin console in a browser on this machine:
  $url/console/
and sign in with the admin token: cat $collector_dir/admin-token

Stop both with: bash scripts/quickstart.sh --stop
TXT
