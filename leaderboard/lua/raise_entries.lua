-- Raise board entries (ZADD GT), and mirror them into the board's rebuild key while a rebuild
-- runs, so a score committed during a rebuild is on the board that the rebuild swaps in.
-- KEYS[1] the live board
-- KEYS[2] the board's rebuild key
-- KEYS[3] the board's rebuild lock (present while a rebuild runs)
-- ARGV    score, member [, score, member ...]: at most 3,000 pairs (Lua's unpack limit)
-- Returns the number of entries added to the live board.
local added = redis.call('ZADD', KEYS[1], 'GT', unpack(ARGV))
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('ZADD', KEYS[2], 'GT', unpack(ARGV))
end
return added
