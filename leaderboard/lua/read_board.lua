-- A player's rank with the entries around it, or several players' entries, read with the board's
-- header (the member above every entry that names the board's rules), if the board has one.
-- KEYS[1] the board
-- ARGV[1] the read, ARGV[2] '1' to count the board's entries (else '0'), and after them the read's
-- arguments:
--   around   member, context: the member's 0-based rank and the entries from rank - context to
--            rank + context, best first, the member included
--   entries  member, ...: each member's 0-based rank and score, false for both if it has none
--            (one ZMSCORE for every score, then a rank for each member that has one)
-- Returns {} if the board has no header (it is not whole); else {header, entries on the board (false
-- unless counted), the read's answer}:
--   around   nothing more if the member has no entry, else rank, {member, score, ...}
--   entries  {rank, score, rank, score, ...} in the members' order
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0)[1]
if not top or string.byte(top, 1) ~= 0 then
  return {}
end
local total = ARGV[2] == '1' and redis.call('ZCOUNT', KEYS[1], '-inf', '(+inf')

if ARGV[1] == 'around' then
  local rank = redis.call('ZREVRANK', KEYS[1], ARGV[3])
  if not rank then
    return {top, total}
  end
  local context = tonumber(ARGV[4])
  -- Position 0 is the header: entries start at 1.
  local window = redis.call('ZREVRANGE', KEYS[1], math.max(rank - context, 1), rank + context, 'WITHSCORES')
  return {top, total, rank - 1, window}
end

local members = {unpack(ARGV, 3)}
local found = {}
if #members == 0 then
  return {top, total, found}
end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(members))
for i, member in ipairs(members) do
  local rank = scores[i] and redis.call('ZREVRANK', KEYS[1], member)
  found[2 * i - 1] = rank and rank - 1 or false
  found[2 * i] = scores[i] or false
end
return {top, total, found}
