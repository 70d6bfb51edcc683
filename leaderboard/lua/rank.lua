-- A member's rank and score on a board, if the board is whole, in one call.
-- KEYS[1] the board's built marker
-- KEYS[2] the board
-- ARGV[1] the member
-- Returns false if the board is not built, {} if the member has no entry, else
--   {rank (0-based, best first), score}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local rank = redis.call('ZREVRANK', KEYS[2], ARGV[1])
if not rank then
  return {}
end
return {rank, redis.call('ZSCORE', KEYS[2], ARGV[1])}
