-- Clients at a given rate, open loop (timing.pacer): `keys=k1,k2,… paths=<path>|<path>|…
-- interval_ms=…`, optional `label=…` (else each path its own label) and `etag=yes` (If-None-Match
-- with the last ETag this client received, as a portal that polls sends it). Thread i is client i,
-- with key i (the last key when there are fewer keys than threads); its requests are due
-- interval_ms apart on average, each moment drawn apart from the others (a Poisson process).
local timing = require("timing")
local options, keys, paths = {}, {}, {}
local headers = {}
local pacer = timing.pacer()
local etag
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
  pacer.interval = tonumber(options.interval_ms)
end

timing.install(function()
  sent = sent + 1
  local path = paths[(sent - 1) % #paths + 1]
  if options.etag == "yes" and etag then
    headers["If-None-Match"] = etag
  end
  local label = options.label or ("GET " .. path:match("^[^?]*"):gsub("^/api/v1", ""))
  return label, wrk.format("GET", path, headers), pacer.late_due()
end, function(_label, status, response_headers)
  if options.etag == "yes" and status == 200 then
    etag = response_headers["etag"] or response_headers["ETag"] or etag
  end
end)
