-- Every read of a board, with the board's rules, if the board is whole: one call per read.
-- KEYS[1] the board's rules
-- KEYS[2] the board's built marker
-- KEYS[3] the board
-- ARGV[1] the read, and after it its arguments:
--   page     first, last: the entries at those 0-based positions, best first
--   around   member, context: the member's 0-based rank and the entries from rank - context to
--            rank + context, best first, the member included
--   entries  member, ...: each member's 0-based rank and score, false for both if it has none
-- Returns {} if the board has no rules (an unknown game, or rules Redis lost); {rules} if the
-- board is not whole (Redis lost its data); else {rules, entries on the board, the read's answer}:
--   page     {member, score, member, score, ...}
--   around   nothing more if the member has no entry, else rank, {member, score, ...}
--   entries  {rank, score, rank, score, ...} in the members' order
-- where rules = {order, operator, min, max}.
local rules = redis.call('HMGET', KEYS[1], 'order', 'operator', 'min', 'max')
if not rules[1] then
  return {}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {rules}
end
local total = redis.call('ZCARD', KEYS[3])
local read = ARGV[1]

if read == 'page' then
  return {rules, total, redis.call('ZREVRANGE', KEYS[3], ARGV[2], ARGV[3], 'WITHSCORES')}
end

if read == 'around' then
  local rank = redis.call('ZREVRANK', KEYS[3], ARGV[2])
  if not rank then
    return {rules, total}
  end
  local first = math.max(rank - tonumber(ARGV[3]), 0)
  return {rules, total, rank, redis.call('ZREVRANGE', KEYS[3], first, rank + tonumber(ARGV[3]), 'WITHSCORES')}
end

local found = {}
for i = 2, #ARGV do
  local rank = redis.call('ZREVRANK', KEYS[3], ARGV[i])
  found[2 * i - 3] = rank or false
  found[2 * i - 2] = rank and redis.call('ZSCORE', KEYS[3], ARGV[i]) or false
end
return {rules, total, found}
