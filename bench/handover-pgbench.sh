#!/usr/bin/env bash
# What ADR 0006's rejected alternative would cost PostgreSQL: evidence handed to a shard's owner
# through the database instead of relayed between collectors. On a throwaway PostgreSQL 15
# server (initdb in a temporary directory, loopback, a free port, stopped at the end), pgbench
# plays both sides for SECONDS at RATE heartbeats a second:
#   - the collectors that took heartbeats in insert their evidence, 200 rows per statement (the
#     relay's batch), one row per heartbeat with what the owner needs (agent, received at,
#     interval, fallback flag, outage diary and witnesses as text);
#   - the owner takes it out every 100 ms (DELETE ... RETURNING of its shard's rows).
# It prints the rows moved, the database server's CPU per heartbeat (every postgres process of
# the server, from /proc: user + system), the WAL written per heartbeat, and pgbench's latencies.
# Compare with the relay: vigil-relay-bench (bench/relay_bench.cc).
# Usage: bench/handover-pgbench.sh [RATE] [SECONDS]   (defaults 2000 and 30; as root, the
# server runs as `nobody`)
set -euo pipefail
rate=${1:-2000}
seconds=${2:-30}
pg_bin=/usr/lib/postgresql/15/bin
[ -x "$pg_bin/pgbench" ] || { echo "handover-pgbench: needs postgresql-15" >&2; exit 2; }

work=$(mktemp -d /tmp/vigil-handover-XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown nobody "$work"
  as_pg=(runuser -u nobody --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/data" -U bench --auth=trust >/dev/null
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1" start >/dev/null
psql=(psql -h 127.0.0.1 -p "$port" -U bench -d postgres -qAt)

"${psql[@]}" <<'SQL'
CREATE TABLE evidence_handover (
  id BIGSERIAL PRIMARY KEY,
  shard INTEGER NOT NULL,
  agent_id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  interval_ms INTEGER NOT NULL,
  fallback BOOLEAN NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX evidence_handover_shard ON evidence_handover (shard, id);
SQL

# One statement per batch of 200 heartbeats of random agents of 20,000 (ids as the collector's).
cat >"$work/insert.sql" <<'SQL'
INSERT INTO evidence_handover (shard, agent_id, received_at, interval_ms, fallback, detail)
SELECT (random() * 255)::int, 'ag_' || md5((random() * 20000)::int::text),
       (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 60000, false, '[]'
FROM generate_series(1, 200);
SQL
# The owners: each poll takes out what arrived for one owner's third of the shards.
cat >"$work/poll.sql" <<'SQL'
\set owner random(0, 2)
DELETE FROM evidence_handover WHERE shard % 3 = :owner RETURNING agent_id, received_at, interval_ms, fallback, detail;
SQL

# User + system ticks of every process of the server: the postmaster's own, those of the
# backends it reaped (its cutime and cstime) and those of the ones alive.
cpu_ticks() {
  local pid total postmaster
  postmaster=$(head -1 "$work/data/postmaster.pid")
  total=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$postmaster/stat")
  for pid in $(pgrep -P "$postmaster" || true); do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
wal_bytes() { "${psql[@]}" -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"; }

batches_per_second=$(((rate + 199) / 200))
polls_per_second=30  # three owners, each every 100 ms
ticks_before=$(cpu_ticks)
wal_before=$(wal_bytes)
"$pg_bin/pgbench" -h 127.0.0.1 -p "$port" -U bench -n -r -T "$seconds" -c 2 -j 2 \
  -R "$((batches_per_second + polls_per_second))" \
  -f "$work/insert.sql@$batches_per_second" -f "$work/poll.sql@$polls_per_second" \
  postgres >"$work/pgbench.log" 2>&1 || { cat "$work/pgbench.log" >&2; exit 1; }
ticks_after=$(cpu_ticks)
wal_after=$(wal_bytes)
left=$("${psql[@]}" -c "SELECT count(*) FROM evidence_handover")
hz=$(getconf CLK_TCK)
python3 - "$work/pgbench.log" "$seconds" "$((ticks_after - ticks_before))" "$hz" \
  "$((wal_after - wal_before))" "$left" "$rate" <<'PY'
import re, sys
log, (seconds, ticks, hz, wal, left, rate) = sys.argv[1], map(int, sys.argv[2:])
# pgbench -r: the first script's transactions, each a batch of 200 heartbeats.
batches = int(re.findall(r"^ - (\d+) transactions", open(log).read(), re.M)[0])
beats = batches * 200
cpu_s = ticks / hz
print(f"handover-pgbench: {beats} heartbeats handed over in {seconds} s ({rate}/s asked), "
      f"{left} not yet taken at the end")
print(f"handover-pgbench: PostgreSQL CPU {cpu_s:.2f} s = {cpu_s / beats * 1e6:.1f} us per "
      f"heartbeat ({cpu_s / seconds * 100:.0f} % of one core)")
print(f"handover-pgbench: WAL {wal / beats:.0f} bytes per heartbeat "
      f"({wal / seconds / 1e6:.2f} MB/s)")
PY
grep -E "^latency average|^ +[0-9.]+ +[0-9]+ +(INSERT|DELETE)" "$work/pgbench.log" |
  sed -E "s/^ +([0-9.]+) +[0-9]+ +(INSERT|DELETE).*/\2 latency average = \1 ms/; s/^/handover-pgbench: /"
