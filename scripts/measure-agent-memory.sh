#!/usr/bin/env bash
# Measures a vigil-agent binary's memory the way docs/agent.md ("Footprint, the released
# agent") reports it: a collector on loopback asking for a heartbeat every 5 s, the agent
# enrolled with it and beating for SECONDS (default 60), then one line: file size, VmRSS and
# RssAnon (/proc/PID/status), private memory (Private_Clean + Private_Dirty) and Anonymous of
# /proc/PID/smaps_rollup, all in KiB, and the heartbeats the collector accepted.
#
# Usage: scripts/measure-agent-memory.sh AGENT COLLECTOR [SECONDS]
#   AGENT: the vigil-agent to measure (e.g. build-pkg/portable-agent/bin/vigil-agent, or
#   build-pkg/bin/vigil-agent, built against this host's shared libcurl); COLLECTOR: a
#   vigil-collector binary. Writes only a temporary directory; kills what it started.
set -euo pipefail
agent=$(readlink -f "${1:?give the agent binary}")
collector=$(readlink -f "${2:?give the collector binary}")
seconds=${3:-60}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$collector" --data-dir="$work/collector" --http-address=127.0.0.1 --http-port=0 \
  --port-file="$work/port" --define=beacon.port=0 --define=heartbeat.intervalSeconds=5 \
  >"$work/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && [ -s "$work/collector/enroll-token" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$work/port")
"$agent" enroll --server "$url" --token "$(cat "$work/collector/enroll-token")" \
  --state-dir "$work/agent" --config /dev/null >"$work/enroll.log" 2>&1
"$agent" --state-dir "$work/agent" --config /dev/null -D min_interval_s=5 \
  -D start_delay_max_s=0 >"$work/agent.log" 2>&1 &
agent_pid=$!
pids+=("$agent_pid")
sleep "$seconds"
status_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$agent_pid/status"; }
rollup_kib() { awk -v k="$1" '{sub(":", "", $1)} $1 ~ k {s += $2} END {print s}' \
               "/proc/$agent_pid/smaps_rollup"; }
id=$(python3 -c "import json; print(json.load(open('$work/agent/identity.json'))['agent_id'])")
beats=$(curl -fsS -H "Authorization: Bearer $(cat "$work/collector/admin-token")" \
  "$url/api/v1/agents/$id" | python3 -c "import json,sys; print(json.load(sys.stdin).get('last_seq'))")
echo "size $(($(stat -c %s "$agent") / 1024)) KiB; after ${seconds} s:" \
  "VmRSS $(status_kib VmRSS) KiB, RssAnon $(status_kib RssAnon) KiB," \
  "private $(rollup_kib '^Private_(Clean|Dirty)$') KiB, Anonymous $(rollup_kib '^Anonymous$') KiB;" \
  "last heartbeat seq $beats"
