-- An operator's exit script: batches of exit records, one every `pause_ms` exactly, open loop
-- (timing.pacer, periodic): `key=… batches=<file> pause_ms=…`. The file (written
-- by bench/figures/mix.py) returns a list of JSON bodies; they are sent in order, then again
-- (re-posted records are `unchanged`). The items' outcomes are counted from each answer's `counts`.
-- Paced from one due time to the next, the connection is idle for less than the pause: a pause
-- after each answer as long as the server's keep-alive (5 s) had wrk meet the server closing the
-- connection and send the next batch at once on a new one, then again when its delay ended (two
-- batches where one was due).
local timing = require("timing")
local options, batches = {}, {}
local pacer = timing.pacer({ periodic = true })
local sent = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  options = timing.options(args)
  headers["Authorization"] = "Bearer " .. options.key
  batches = dofile(options.batches)
  pacer.interval = tonumber(options.pause_ms)
end

timing.install(function()
  sent = sent + 1
  local body = batches[(sent - 1) % #batches + 1]
  return "POST /api/v1/exit-records (batch)",
    wrk.format("POST", "/api/v1/exit-records", headers, body),
    pacer.late_due()
end, function(_label, status, _headers, body)
  if status == 200 then
    for _, outcome in ipairs({ "created", "unchanged", "error" }) do
      local count = body:match('"' .. outcome .. '":%s*(%d+)')
      if count then
        timing.add(outcome, tonumber(count))
      end
    end
  end
end)
