#!/usr/bin/env bash
# The collector's load test (docs/operations.md, "Sizing and capacity"): builds the collector
# and the load generator, then on loopback
#   (i)   heartbeats alone at a fixed rate (vigil-ingest-load: enrolled synthetic agents,
#         signed heartbeats, keep-alive connections);
#   (ii)  the same while wrk floods the admin API (GET /api/v1/agents with the admin token,
#         many connections) and, when the collector has webhooks, test deliveries are fired
#         at a webhook whose receiver is down (the outbox retries them);
#   (iii) over capacity: a collector with a small pool and more concurrent connections than
#         workers; it must answer 503/429 with Retry-After and count the sheds, and the clients
#         must see no reset or refused connection.
# Prints each run's figures and the collector's shed counters. Exit status 1 if (iii) saw a
# transport error or a shed answer without Retry-After, or (ii) accepted less than 90 % of the
# target rate; 2 if it could not run.
#
# Usage: scripts/load-test.sh [--quick]
# Environment: VIGIL_BUILD_DIR (default build), LOAD_RATE (heartbeats/s, default 2000),
#              LOAD_SECONDS (default 20; --quick: 8).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${VIGIL_BUILD_DIR:-build}
rate=${LOAD_RATE:-2000}
seconds=${LOAD_SECONDS:-20}
[ "${1:-}" = "--quick" ] && seconds=${LOAD_SECONDS:-8}

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "load-test: $tool missing (scripts/install-deps.sh --test)" >&2; exit 2; }
done
VIGIL_BUILD_DIR=$build VIGIL_TARGETS="vigil-collector vigil-ingest-load" \
  bash scripts/build.sh -DVIGIL_BUILD_TESTS=ON >/dev/null
collector=$build/bin/vigil-collector
load=$build/bin/vigil-ingest-load

work=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_collector NAME [-D key=value ...]: starts a collector in $work/NAME; sets $port.
# The load enrolls its agents at once through the generated token: no enrollment limits.
start_collector() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  "$collector" --data-dir="$work/$name/data" --http-address=127.0.0.1 --http-port=0 \
    --port-file="$work/$name/port" -D beacon.port=0 -D logging.level=warning \
    -D enrollment.perTokenPerMinute=0 -D enrollment.perSitePerMinute=0 \
    -D enrollment.perTenantPerMinute=0 -D enroll.generatedTokenMaxUses=0 \
    -D enrollment.maxAgentsPerSite=0 -D enrollment.maxAgentsPerTenant=0 \
    -D outbound.allowedNetworks=127.0.0.0/8 "$@" \
    >"$work/$name/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if [ -s "$work/$name/port" ] && curl -fsS "http://127.0.0.1:$(cat "$work/$name/port")/readyz" >/dev/null 2>&1; then
      port=$(cat "$work/$name/port")
      return 0
    fi
    sleep 0.1
  done
  echo "load-test: collector $name did not start:" >&2
  tail -n 20 "$work/$name/log" >&2
  exit 2
}

# shed_counters: the collector's shed and refused counters, one line.
shed_counters() {
  curl -fsS "http://127.0.0.1:$port/metrics" |
    awk '/^vigil_http_requests_shed_total/ && $2 > 0 { printf "%s=%s  ", $1, $2 }
         /^vigil_http_connections_refused_total/ { printf "refused_connections=%s", $2 }
         END { print "" }'
}

json_field() {  # json_field FILE NAME: a number from the load generator's JSON line
  tail -n 1 "$1" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p"
}

status=0
echo "== collector: defaults (http.maxThreads 10: admin 4, probes 2, ingest the rest)"
start_collector main
data=$work/main/data

echo
"$load" --port "$port" --data-dir "$data" --agents 512 --connections 32 --rate "$rate" \
  --seconds "$seconds" --label "(i) ingest alone" | tee "$work/i.out"
echo "  collector: $(shed_counters)"

echo
token=$(cat "$data/admin-token")
webhook_note="no webhook API in this build: admin flood only"
created=$(curl -sS -o "$work/webhook.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"tenant_id":1,"url":"http://127.0.0.1:9/vigil-load-test","description":"load test"}' \
  "http://127.0.0.1:$port/api/v1/webhooks" || true)
webhook_wrk=()
if [ "$created" = 201 ]; then
  id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$work/webhook.json" | head -n 1)
  cat >"$work/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
EOF
  webhook_note="plus webhook test deliveries to a receiver that is down (webhook $id)"
  webhook_wrk=(wrk -t1 -c8 -d"$((seconds + 4))s" -s "$work/post.lua" -H "Authorization: Bearer $token"
    "http://127.0.0.1:$port/api/v1/webhooks/$id/test")
fi
echo "-- (ii) admin API flooded: wrk -t2 -c64 GET /api/v1/agents?limit=100; $webhook_note"
wrk -t2 -c64 -d"$((seconds + 4))s" -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/api/v1/agents?limit=100" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
webhook_pid=""
if [ ${#webhook_wrk[@]} -gt 0 ]; then
  "${webhook_wrk[@]}" >"$work/wrk-webhooks.out" 2>&1 &
  webhook_pid=$!
fi
sleep 2
"$load" --port "$port" --data-dir "$data" --agents 512 --connections 32 --rate "$rate" \
  --seconds "$seconds" --label "(ii) ingest with the admin API flooded" | tee "$work/ii.out"
wait "$wrk_pid" || true
[ -z "$webhook_pid" ] || wait "$webhook_pid" || true
echo "  wrk (admin): $(grep -E 'Requests/sec' "$work/wrk.out" | tr -s ' ')," \
  "$(grep -E 'requests in' "$work/wrk.out" | tr -s ' ')," \
  "non-2xx: $(grep -E 'Non-2xx' "$work/wrk.out" | awk '{print $NF}')"
if [ -f "$work/wrk-webhooks.out" ]; then
  echo "  wrk (webhook tests): $(grep -E 'Requests/sec' "$work/wrk-webhooks.out" | tr -s ' ')"
fi
echo "  collector: $(shed_counters)"
accepted=$(json_field "$work/ii.out" accepted_per_s)
if awk -v a="$accepted" -v r="$rate" 'BEGIN { exit !(a < 0.9 * r) }'; then
  echo "  FAILED: ingest accepted ${accepted}/s with the admin API flooded (target $rate/s)"
  status=1
fi

echo
echo "== (iii) over capacity: http.maxThreads 8 (admin 2, probes 1), agents shed above 64 waiting connections"
start_collector small -D http.maxThreads=8 -D http.adminThreads=2 -D http.probeThreads=1 \
  -D http.ingestQueueHighWater=64
"$load" --port "$port" --data-dir "$work/small/data" --agents 512 --connections 256 \
  --rate 20000 --seconds "$seconds" --label "(iii) 256 connections on 8 workers" | tee "$work/iii.out"
echo "  collector: $(shed_counters)"
errors=$(json_field "$work/iii.out" transport_errors)
missing=$(json_field "$work/iii.out" shed_without_retry_after)
shed=$(json_field "$work/iii.out" shed_per_s)
if [ "$errors" != 0 ] || [ "$missing" != 0 ] || awk -v s="$shed" 'BEGIN { exit !(s == 0) }'; then
  echo "  FAILED: over capacity the clients saw $errors transport errors, $missing sheds without Retry-After, ${shed}/s shed"
  status=1
fi
exit $status
