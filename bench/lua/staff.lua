-- A staff member's reads, in turn: `key=… paths=<path>|<path>|…`, each path its own label; with
-- `interval_ms=…` each that long on average after the last answer, as a person reads it before
-- asking again (timing.pacer, thinking), else each as soon as the last is answered.
local timing = require("timing")
local options, paths = {}, {}
local pacer = timing.pacer({ thinking = true })
local sent = 0
local headers = {}

function init(args)
  options = timing.options(args)
  headers["Authorization"] = "Bearer " .. options.key
  for path in options.paths:gmatch("[^|]+") do
    paths[#paths + 1] = path
  end
  pacer.interval = tonumber(options.interval_ms) -- nil without it: closed loop
end

timing.install(function()
  sent = sent + 1
  local path = paths[(sent - 1) % #paths + 1]
  return "GET " .. path:match("^[^?]*"):gsub("^/api/v1", ""), wrk.format("GET", path, headers), pacer.late_due()
end)
