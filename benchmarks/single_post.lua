-- wrk script: POST one new event per request, each with a unique source_id.
-- The grid codes and API key come from the environment (set by benchmarks/ingest.py).
local counter = 0
local thread_id = 0
local grids = {}
local items = {}

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  for g in string.gmatch(os.getenv("BENCH_GRIDS"), "[^,]+") do grids[#grids + 1] = g end
  for i in string.gmatch(os.getenv("BENCH_ITEMS"), "[^,]+") do items[#items + 1] = i end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = os.getenv("BENCH_KEY")
  math.randomseed(tid or 1)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"source_id":"%s-%d-%d","channel":"grid_app","item":"%s","description":"解放中路社区3号楼楼道堆放杂物","grid":"%s"}',
    os.getenv("BENCH_RUN"), tid or 0, counter, items[math.random(#items)], grids[math.random(#grids)])
  return wrk.format(nil, "/api/v1/events", nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("WRK requests=%d duration_us=%d non2xx=%d errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
