-- GET /v1/leaderboard?game_id=default&top=10 alone; args: N, the API key, the run's token.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
common.use(common.v1_leaderboard)
