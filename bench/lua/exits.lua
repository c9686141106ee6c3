-- An operator's exit script: batches of exit records posted one after the other, `pause_ms`
-- between two (a script sends its batch and goes on with its work): `key=… batches=<file>
-- pause_ms=…`. The file (written by bench/figures/mix.py) returns a list of JSON bodies; they
-- are sent in order, then again (re-posted records are `unchanged`). The items' outcomes are
-- counted from each answer's `counts`.
local timing = require("timing")
local options, batches = {}, {}
local sent = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  options = timing.options(args)
  headers["Authorization"] = "Bearer " .. options.key
  batches = dofile(options.batches)
end

function delay()
  return tonumber(options.pause_ms)
end

timing.install(function()
  sent = sent + 1
  local body = batches[(sent - 1) % #batches + 1]
  return "POST /api/v1/exit-records (batch)", wrk.format("POST", "/api/v1/exit-records", headers, body)
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
