-- The session flow: POST /v1/sessions for a random player, then the session's one score with
-- its bearer token. Each thread queues the sessions it was given: a request submits a waiting
-- one's score if there is one, else opens a session. flows counts the scores answered 201.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
local waiting = {}

common.use(function()
  local session = table.remove(waiting, 1)
  if session == nil then
    local body = string.format('{"player_id": "%s", "game_id": "default"}', common.player())
    return wrk.format("POST", "/v1/sessions", { ["Content-Type"] = "application/json" }, body)
  end
  local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. session.token }
  local body = string.format('{"player_id": "%s", "game_id": "default", "score": %d, "session_id": "%s"}',
    session.player_id, math.random(0, 1000000), session.session_id)
  return wrk.format("POST", "/v1/scores", headers, body)
end)

-- wrk does not say which request an answer is for: a session's answer is the one with a token.
response = function(status, headers, body)
  common.response(status, headers, body)
  if status ~= 201 then return end
  local token = body:match('"token"%s*:%s*"([^"]+)"')
  if token == nil then
    flows = flows + 1
    return
  end
  table.insert(waiting, {
    token = token,
    session_id = body:match('"session_id"%s*:%s*"([^"]+)"'),
    player_id = body:match('"player_id"%s*:%s*"([^"]+)"'),
  })
end
