-- Clients at a fixed rate, open loop (as wrk2 does it): `keys=k1,k2,… paths=<path>|<path>|…
-- interval_ms=…`, optional `label=…` (else each path its own label) and `etag=yes` (If-None-Match
-- with the last ETag this client received, as a portal that polls sends it). Thread i is client i,
-- with key i (the last key when there are fewer keys than threads). Its requests are due every
-- interval_ms, the clients' starts spread over the first interval. When the previous answer came
-- after a request was due, that request's latency runs from when it was due, not from when it could
-- be sent: the wait the late answer caused counts against the service (no coordinated omission).
local timing = require("timing")
local options, keys, paths = {}, {}, {}
local headers = {}
local interval, due, answered_at, etag
local sent = 0

function init(args)
  options = timing.options(args)
  for key in options.keys:gmatch("[^,]+") do
    keys[#keys + 1] = key
  end
  for path in options.paths:gmatch("[^|]+") do
    paths[#paths + 1] = path
  end
  headers["Authorization"] = "Bearer " .. keys[math.min(bench_thread_number, #keys)]
  interval = tonumber(options.interval_ms)
end

-- wrk asks before each request (the first included) how long to wait, in whole milliseconds.
function delay()
  local now = timing.now_ms()
  if due == nil then
    -- The golden ratio's fractions spread any number of clients evenly over one interval.
    due = now + interval * ((bench_thread_number - 1) * 0.6180339887 % 1)
  else
    due = due + interval
  end
  return math.max(0, math.ceil(due - now))
end

timing.install(function()
  sent = sent + 1
  local path = paths[(sent - 1) % #paths + 1]
  if options.etag == "yes" and etag then
    headers["If-None-Match"] = etag
  end
  local label = options.label or ("GET " .. path:match("^[^?]*"):gsub("^/api/v1", ""))
  local late = answered_at ~= nil and answered_at > due
  return label, wrk.format("GET", path, headers), late and due or nil
end, function(_label, status, response_headers)
  answered_at = timing.now_ms()
  if options.etag == "yes" and status == 200 then
    etag = response_headers["etag"] or response_headers["ETag"] or etag
  end
end)
