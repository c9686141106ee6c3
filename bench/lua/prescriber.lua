-- A prescriber posting prescriptions (POST /pathways without entered_on) with its portal key:
-- `key=… prefix=… conventions=1,2,3 day=YYYY-MM-DD`, and `interval_ms=…` for one every so often
-- on average, open loop (timing.pacer: a Poisson process), else each as soon as the last is answered. Each body names a new
-- person (prefix, thread, counter), on the conventions given in turn, so that each is valid:
-- 201, and waitlisted rather than refused once a convention is full.
local timing = require("timing")
local options, conventions = {}, {}
local sent = 0
local pacer = timing.pacer()
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  options = timing.options(args)
  headers["Authorization"] = "Bearer " .. options.key
  for id in options.conventions:gmatch("%d+") do
    conventions[#conventions + 1] = id
  end
  pacer.interval = tonumber(options.interval_ms) -- nil without it: closed loop
end

timing.install(function()
  sent = sent + 1
  local body = string.format(
    '{"convention_id": %s, "beneficiary_ref": "%s-%d-%d", "prescribed_on": "%s"}',
    conventions[(sent - 1) % #conventions + 1], options.prefix, bench_thread_number, sent, options.day
  )
  return "POST /api/v1/pathways (prescription)", wrk.format("POST", "/api/v1/pathways", headers, body), pacer.late_due()
end)
