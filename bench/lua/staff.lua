-- A staff member's reads, in turn: `key=… paths=<path>|<path>|…`, each path its own label.
local timing = require("timing")
local options, paths = {}, {}
local sent = 0
local headers = {}

function init(args)
  options = timing.options(args)
  headers["Authorization"] = "Bearer " .. options.key
  for path in options.paths:gmatch("[^|]+") do
    paths[#paths + 1] = path
  end
end

timing.install(function()
  sent = sent + 1
  local path = paths[(sent - 1) % #paths + 1]
  return "GET " .. path:match("^[^?]*"):gsub("^/api/v1", ""), wrk.format("GET", path, headers)
end)
