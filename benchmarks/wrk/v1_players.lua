-- GET /v1/leaderboard/players?game_id=default&player_ids=<20 distinct random players> alone.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
common.use(common.v1_players)
