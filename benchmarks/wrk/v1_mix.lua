-- The v1 mix, weights 3 leaderboard : 2 rank with neighbours : 1 server-key submission.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
common.use(common.mix({ { common.v1_leaderboard, 3 }, { common.v1_rank, 2 }, { common.v1_submit, 1 } }))
