-- wrk script for bench/heartbeat.py: POST a body (empty by default) to one or more paths, round robin.
-- Environment: BENCH_TOKEN (bearer token; none for the floor app) and BENCH_PATHS (paths separated by
-- spaces; default: the URL's own path) and BENCH_BODY (the JSON body; default: empty). Each connection
-- starts at its own offset so the paths spread.
local token = os.getenv("BENCH_TOKEN")
local paths = {}
for p in string.gmatch(os.getenv("BENCH_PATHS") or "", "%S+") do
  paths[#paths + 1] = p
end

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/json"
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local counter = 0

request = function()
  if #paths == 0 then
    return wrk.format(nil, nil)
  end
  counter = counter + 1
  return wrk.format(nil, paths[(counter % #paths) + 1])
end
