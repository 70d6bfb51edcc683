-- Set board entries to newer states, and mirror them into the board's rebuild key while a
-- rebuild runs. A state is newer when the submission that made it came later: the low 33 bits
-- of an encoded score hold 2**33 - 1 - that submission's id. Replaying an old state is a no-op,
-- so mirrors may run late, twice, or out of order.
-- KEYS[1] the live board
-- KEYS[2] the board's rebuild key
-- KEYS[3] the board's rebuild lock (present while a rebuild runs)
-- ARGV    score, member [, score, member ...]
-- Returns the number of entries set on the live board.
local SPAN = 8589934592

local function sequence(score)
  return SPAN - 1 - math.fmod(score, SPAN)
end

local function set_if_newer(key, score, member)
  local current = redis.call('ZSCORE', key, member)
  if current and sequence(tonumber(current)) >= sequence(tonumber(score)) then
    return 0
  end
  redis.call('ZADD', key, score, member)
  return 1
end

local rebuilding = redis.call('EXISTS', KEYS[3]) == 1
local set = 0
for i = 1, #ARGV, 2 do
  set = set + set_if_newer(KEYS[1], ARGV[i], ARGV[i + 1])
  if rebuilding then
    set_if_newer(KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
return set
