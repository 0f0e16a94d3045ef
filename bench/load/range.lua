-- wrk: GET one file with a 64 KiB Range at a random offset per request.
-- Usage: wrk ... -s range.lua URL -- PATH SIZE
local path, size
function init(args)
  path, size = args[1], tonumber(args[2])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
function request()
  local start = math.random(0, size - 65536)
  return wrk.format("GET", path, { ["Range"] = "bytes=" .. start .. "-" .. (start + 65535) })
end
