-- Shared by the scenario scripts: the three seed requests, per-thread counting of non-2xx and
-- 5xx answers, and one summary line for bench_http.py. Script args: the number of players N.
local common = {}
local threads = {}

function common.setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

-- Runs in each thread's own Lua state; the counters are read back by done() via thread:get.
function common.init(args)
  players = tonumber(args[1]) or 100000
  non2xx, server_errors = 0, 0
  -- Each thread its own stream, or both threads would ask for the same players in step.
  math.randomseed(os.time() * 100 + thread_number)
end

function common.top()
  return wrk.format("GET", "/api/top-players/")
end

function common.rank()
  return wrk.format("GET", "/api/my-rank/?username=player" .. math.random(0, players - 1))
end

function common.submit()
  local body = string.format('{"username": "player%d", "points": %d}', math.random(0, players - 1),
    math.random(0, 1000000))
  return wrk.format("POST", "/api/score/", { ["Content-Type"] = "application/json" }, body)
end

-- A 404 from my-rank is a correct answer (no score yet), so only 5xx count as server errors.
function common.response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status >= 500 then server_errors = server_errors + 1 end
end

function common.done(summary, latency, requests)
  local non2xx_total, server_total = 0, 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    server_total = server_total + thread:get("server_errors")
  end
  local e = summary.errors
  io.write(string.format(
    "SPEEDRANK requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d non2xx=%d server_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, non2xx_total, server_total))
end

-- Install the shared hooks as the globals wrk calls, with `request` as given.
function common.use(request)
  setup, init, response, done = common.setup, common.init, common.response, common.done
  _G.request = request
end

return common
