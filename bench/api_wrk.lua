-- wrk script of bench/api.py: every request carries the next signed-in customer's token and walks
-- BENCH_PATHS ("|"-separated, {meter} = that customer's meter id) in order, so the home-screen
-- sequence is each caller's 5 calls. Prints one JSON line (BENCH_JSON) for bench/api.py.
local tokens, meters = {}, {}
local paths = {}
local n, i = 0, 0

function setup(thread)
  thread:set("offset", math.random(1, 1000000))
end

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local t, m = line:match("^(%S+) (%S+)$")
    n = n + 1
    tokens[n], meters[n] = t, m
  end
  for p in string.gmatch(os.getenv("BENCH_PATHS"), "[^|]+") do
    paths[#paths + 1] = p
  end
  i = offset or 0
end

function request()
  i = i + 1
  local k = math.floor(i / #paths) % n + 1
  local path = paths[i % #paths + 1]:gsub("{meter}", meters[k])
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[k] })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "rps": %.1f, "p50": %d, "p99": %d, "errors": %d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
