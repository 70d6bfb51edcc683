-- POST /v1/scores with a server key (X-API-Key, script arg 2), a random player and score, alone.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
common.use(common.v1_submit)
