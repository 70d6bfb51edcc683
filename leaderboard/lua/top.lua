-- The best entries of a board, if the board is whole, in one call.
-- KEYS[1] the board's built marker
-- KEYS[2] the board
-- ARGV[1], ARGV[2] the first and last 0-based positions wanted, best first
-- Returns false if the board is not built, else {member, score, member, score, ...}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
return redis.call('ZREVRANGE', KEYS[2], ARGV[1], ARGV[2], 'WITHSCORES')
