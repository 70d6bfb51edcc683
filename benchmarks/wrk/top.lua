-- GET /api/top-players/ alone (also the ceiling run); args: the number of players N.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
common.use(common.top)
