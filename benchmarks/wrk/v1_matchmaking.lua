-- GET /v1/matchmaking?game_id=default&player_id=playerK&size=10 alone, K random below N.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
common.use(common.v1_matchmaking)
