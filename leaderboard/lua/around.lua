-- A member's rank and the entries around it, read atomically.
-- KEYS[1] the board
-- ARGV[1] the member
-- ARGV[2] how many entries to return on each side (context)
-- Returns nil if the member has no entry, else
--   {rank (0-based), score, total entries, {member, score, member, score, ...}} for ranks
--   rank - context .. rank + context, best first, the member included.
local rank = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not rank then
  return nil
end
local context = tonumber(ARGV[2])
local first = math.max(rank - context, 0)
local window = redis.call('ZREVRANGE', KEYS[1], first, rank + context, 'WITHSCORES')
return {rank, redis.call('ZSCORE', KEYS[1], ARGV[1]), redis.call('ZCARD', KEYS[1]), window}
