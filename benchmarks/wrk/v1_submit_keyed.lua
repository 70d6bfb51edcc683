-- POST /v1/scores as v1_submit.lua does, each request with an Idempotency-Key of its own.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local common = dofile(here .. "common.lua")
common.use(common.v1_submit_keyed)
