-- Shared by the scenario scripts: the seed and v1 requests, per-thread counting of non-2xx and
-- 5xx answers (and of completed session flows), and one summary line for bench_http.py.
-- Script args: the number of players N, a server-scope API key, and a token unique to the run.
local common = {}
local threads = {}

function common.setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

-- Runs in each thread's own Lua state; the counters are read back by done() via thread:get.
function common.init(args)
  players = tonumber(args[1]) or 100000
  api_key = args[2] or ""
  run_token = args[3] or tostring(os.time())
  non2xx, server_errors, flows, keys_sent = 0, 0, 0, 0
  -- Each thread its own stream, or both threads would ask for the same players in step.
  math.randomseed(os.time() * 100 + thread_number)
end

function common.player()
  return "player" .. math.random(0, players - 1)
end

-- The seed API.

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

-- The v1 API, on the seed's board (game default).

function common.v1_leaderboard()
  return wrk.format("GET", "/v1/leaderboard?game_id=default&top=10")
end

function common.v1_rank()
  return wrk.format("GET", "/v1/leaderboard/rank?game_id=default&player_id=" .. common.player() .. "&context=5")
end

-- 20 distinct players (fewer if the board has fewer).
function common.v1_players()
  local ids, seen = {}, {}
  while #ids < math.min(20, players) do
    local id = common.player()
    if not seen[id] then
      seen[id] = true
      table.insert(ids, id)
    end
  end
  return wrk.format("GET", "/v1/leaderboard/players?game_id=default&player_ids=" .. table.concat(ids, ","))
end

function common.v1_matchmaking()
  return wrk.format("GET", "/v1/matchmaking?game_id=default&player_id=" .. common.player() .. "&size=10")
end

local function server_score(headers)
  headers["Content-Type"] = "application/json"
  headers["X-API-Key"] = api_key
  local body = string.format('{"player_id": "%s", "game_id": "default", "score": %d}', common.player(),
    math.random(0, 1000000))
  return wrk.format("POST", "/v1/scores", headers, body)
end

function common.v1_submit()
  return server_score({})
end

-- The key is unique across runs too: a key seen before with another body would be refused (422).
function common.v1_submit_keyed()
  keys_sent = keys_sent + 1
  return server_score({ ["Idempotency-Key"] = string.format("bench-%s-%d-%d", run_token, thread_number, keys_sent) })
end

-- A 404 from my-rank is a correct answer (no score yet), so only 5xx count as server errors;
-- bench_http.py counts every non-2xx as an error in the v1 scenarios.
function common.response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status >= 500 then server_errors = server_errors + 1 end
end

function common.done(summary, latency, requests)
  local non2xx_total, server_total, flows_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    server_total = server_total + thread:get("server_errors")
    flows_total = flows_total + thread:get("flows")
  end
  local e = summary.errors
  io.write(string.format(
    "SPEEDRANK requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d non2xx=%d server_errors=%d flows=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, non2xx_total, server_total, flows_total))
end

-- Install the shared hooks as the globals wrk calls, with `request` as given.
function common.use(request)
  setup, init, response, done = common.setup, common.init, common.response, common.done
  _G.request = request
end

-- A weighted draw per request: weights maps each request function to its weight.
function common.mix(weights)
  local drawn = {}
  for _, pair in ipairs(weights) do
    for _ = 1, pair[2] do table.insert(drawn, pair[1]) end
  end
  return function()
    return drawn[math.random(#drawn)]()
  end
end

return common
