-- GETs of one path, timed: `label=… path=…`, optional `key=…` (sent as Authorization: Bearer)
-- and `etag=yes` (If-None-Match with the last ETag received, as a portal that polls sends it).
local timing = require("timing")
local options = {}
local headers = {}
local etag

function init(args)
  options = timing.options(args)
  if options.key then
    headers["Authorization"] = "Bearer " .. options.key
  end
end

timing.install(function()
  if options.etag == "yes" and etag then
    headers["If-None-Match"] = etag
  end
  return options.label, wrk.format("GET", options.path, headers)
end, function(_label, status, response_headers)
  if options.etag == "yes" and status == 200 then
    etag = response_headers["etag"] or response_headers["ETag"] or etag
  end
end)
