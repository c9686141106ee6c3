-- What every bench script shares: each request timed on the monotonic clock from the moment wrk
-- writes it to the moment its response is read, under a label (one per endpoint), with the count
-- of each status; `done` prints, per label, one line `BENCH {json}` that bench/common.py reads.
-- Timing needs one request in flight per thread: the bench runs wrk with as many connections as
-- threads (-tN -cN), each thread being one client.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *spec);
]]
local spec = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, spec)
  return tonumber(spec.tv_sec) * 1e3 + tonumber(spec.tv_nsec) / 1e6
end

local M = { now_ms = now_ms }

-- Per thread (each has its own Lua state), read back by `done` with thread:get. Flat tables only:
-- wrk 4.1 crashes copying a table that holds tables. bench_labels[i] names the label whose
-- latencies (ms) are in the global bench_times_<i>; bench_statuses["<i>|<status>"] counts.
bench_labels = {}
bench_statuses = {}
bench_extra = {}

local threads = {}
local index_of = {}
local label, started, answered_at

function M.add(name, amount)
  bench_extra[name] = (bench_extra[name] or 0) + amount
end

-- `next_request()` gives the label and the request (wrk.format) to send next, and optionally
-- the time (now_ms) it was due, from which its latency then runs (an open-loop script: a late
-- send counts against the service); `on_response`, optional, sees each response with its label.
function M.install(next_request, on_response)
  setup = function(thread)
    table.insert(threads, thread)
    thread:set("bench_thread_number", #threads)
  end
  request = function()
    local req, due
    label, req, due = next_request()
    started = due or now_ms()
    return req
  end
  response = function(status, headers, body)
    answered_at = now_ms()
    local elapsed = answered_at - started
    local index = index_of[label]
    if index == nil then
      index = #bench_labels + 1
      bench_labels[index] = label
      index_of[label] = index
      _G["bench_times_" .. index] = {}
    end
    local times = _G["bench_times_" .. index]
    times[#times + 1] = elapsed
    local key = index .. "|" .. status
    bench_statuses[key] = (bench_statuses[key] or 0) + 1
    if on_response then
      on_response(label, status, headers, body)
    end
  end
  done = function(summary, latency, requests)
    local all, statuses, extra, order = {}, {}, {}, {}
    for _, thread in ipairs(threads) do
      local labels = thread:get("bench_labels")
      for index, name in ipairs(labels) do
        if all[name] == nil then
          all[name] = {}
          statuses[name] = {}
          order[#order + 1] = name
        end
        local merged = all[name]
        for _, value in ipairs(thread:get("bench_times_" .. index)) do
          merged[#merged + 1] = value
        end
      end
      for key, count in pairs(thread:get("bench_statuses")) do
        local index, status = key:match("^(%d+)|(%d+)$")
        local counts = statuses[labels[tonumber(index)]]
        counts[status] = (counts[status] or 0) + count
      end
      for name, amount in pairs(thread:get("bench_extra")) do
        extra[name] = (extra[name] or 0) + amount
      end
    end
    local seconds = summary.duration / 1e6
    local errors = summary.errors
    for _, name in ipairs(order) do
      local times = all[name]
      table.sort(times)
      local function percentile(q)
        return times[math.max(1, math.ceil(q / 100 * #times))]
      end
      local parts = {}
      for status, count in pairs(statuses[name]) do
        parts[#parts + 1] = string.format('"%s": %d', status, count)
      end
      local extras = {}
      for key, amount in pairs(extra) do
        extras[#extras + 1] = string.format('"%s": %d', key, amount)
      end
      io.write(string.format(
        'BENCH {"label": "%s", "count": %d, "seconds": %.3f, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, '
          .. '"statuses": {%s}, "extra": {%s}, "errors": %d}\n',
        name, #times, seconds, percentile(50), percentile(95), percentile(99), table.concat(parts, ", "),
        table.concat(extras, ", "), errors.connect + errors.read + errors.write + errors.timeout
      ))
    end
  end
end

-- When this client's requests are due, `interval` ms apart on average: by default each moment
-- drawn apart from the last, open loop (a Poisson process, as the requests of people and portals
-- acting on their own arrive); `periodic`: every `interval` ms exactly, open loop (a script that
-- sends, then waits a fixed time); `thinking`: `interval` ms on average after each answer (a
-- person, who reads the answer before asking again). Each client starts at a random moment within
-- its first interval, its draws seeded apart from every other client's: clients all due at fixed
-- moments from the run's start would send together (a prescriber's every tenth request with the
-- exit script's batch and the staff's read, at the same instant every five seconds), a coincidence
-- no set of users keeps up, which alone would make the p95 (docs/PERFORMANCE.md).
-- Called at the script's top level (wrk looks for `delay` there, not after `init`), it installs
-- wrk's `delay` (asked before each request how long to wait, in whole milliseconds) and gives the
-- pacer: `pacer.interval`, set by the script's `init` (nil: no wait, closed loop), and
-- `pacer.late_due()`, for the request about to be sent, when it was due if the previous answer
-- came after that (its latency then runs from then, not from when it could be sent: the wait the
-- late answer caused counts against the service, no coordinated omission), else nil.
function M.pacer(how)
  local pacer, due = {}, nil
  local periodic, thinking = how ~= nil and how.periodic, how ~= nil and how.thinking
  delay = function()
    if pacer.interval == nil then
      return 0
    end
    local now = now_ms()
    if due == nil then
      -- Each thread has a Lua state of its own; the microseconds of its start set it apart from
      -- the threads of the other wrk processes, its number from those of its own.
      math.randomseed(math.floor(now * 1000) % 2147483647 + bench_thread_number * 7919)
      due = now + pacer.interval * math.random()
    elseif periodic then
      due = due + pacer.interval
    elseif thinking then
      due = now - pacer.interval * math.log(1 - math.random())
    else
      due = due - pacer.interval * math.log(1 - math.random())
    end
    return math.max(0, math.ceil(due - now))
  end
  pacer.late_due = function()
    if due ~= nil and answered_at ~= nil and answered_at > due then
      return due
    end
    return nil
  end
  return pacer
end

-- The script's arguments (after `--` on wrk's command line) as name=value pairs.
function M.options(args)
  local options = {}
  for _, argument in ipairs(args) do
    local name, value = argument:match("^([%w_]+)=(.*)$")
    options[name] = value
  end
  return options
end

return M
