-- wrk script of scripts/bench-ingest.sh: sends a corpus of pre-signed heartbeat requests
-- (vigil-bench-heartbeat-corpus) in order, request i on the i-th call, and counts the answers'
-- statuses.
--
--   wrk -t1 -cC -dS --latency -s bench/wrk_heartbeat.lua http://127.0.0.1:PORT -- CORPUS [MODE]
--
-- MODE "stop" (the default) ends the run when the corpus is used up: each heartbeat is sent at
-- most once, as the collector requires (a replayed seq is refused 409). wrk still waits out its
-- -d, so the line below also gives "active_us", from the first request to the corpus's end (or
-- the whole run). MODE "wrap" starts the corpus again (for a server that checks nothing).
-- One wrk thread only (-t1): two would send the same requests.
--
-- done() prints one line, "wrk_heartbeat {json}": requests answered, durations (µs), statuses,
-- socket errors, latency percentiles (µs), whether the corpus ran out, how often it wrapped.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } wrk_heartbeat_timespec;
int clock_gettime(int clock_id, wrk_heartbeat_timespec *now);
]]
local CLOCK_MONOTONIC = 1

local function monotonic_us()
  local now = ffi.new("wrk_heartbeat_timespec")
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  return tonumber(now.tv_sec) * 1000000 + tonumber(now.tv_nsec) / 1000
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  if #threads > 1 then
    error("wrk_heartbeat.lua: run with -t1 (each thread would send the same heartbeats)")
  end
end

function init(args)
  local path = args[1]
  if path == nil then
    error("wrk_heartbeat.lua: pass the corpus file after --")
  end
  mode = args[2] or "stop"
  corpus = assert(io.open(path, "rb"))
  statuses = {}
  sent = 0
  wraps = 0
  exhausted = false
  started_us = nil
  active_us = 0
end

-- The next request of the corpus, or nil at its end.
local function next_request()
  local length = corpus:read("*l")
  if length == nil then
    return nil
  end
  return corpus:read(tonumber(length))
end

function request()
  local r = next_request()
  if r == nil and mode == "wrap" then
    corpus:seek("set", 0)
    wraps = wraps + 1
    r = next_request()
  end
  if r == nil then
    -- Used up: stop; what wrk still sends before it stops is a probe, not a heartbeat.
    if not exhausted then
      exhausted = true
      active_us = monotonic_us() - started_us
      wrk.thread:stop()
    end
    return wrk.format("GET", "/livez")
  end
  if started_us == nil then
    started_us = monotonic_us()
  end
  sent = sent + 1
  return r
end

function response(status, headers, body)
  if exhausted then
    return
  end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local t = threads[1]
  local counted = t:get("statuses")
  local parts = {}
  for status, n in pairs(counted) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  table.sort(parts)
  local e = summary.errors
  local active = t:get("active_us")
  if active == 0 then
    active = summary.duration
  end
  io.write(string.format(
    'wrk_heartbeat {"requests":%d,"duration_us":%d,"active_us":%d,"sent":%d,"statuses":{%s},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p99":%d,"max":%d},"corpus_exhausted":%s,"wraps":%d}\n',
    summary.requests, summary.duration, active, t:get("sent"), table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max,
    tostring(t:get("exhausted")), t:get("wraps")))
end
