-- Set board entries to newer states, and mirror them into the board's rebuild key while a
-- rebuild runs. A state is newer when the submission that made it came later: the low 33 bits
-- of an encoded score hold 2**33 - 1 - that submission's id. Replaying an old state is a no-op,
-- so mirrors may run late, twice, or out of order.
-- KEYS[1] the live board
-- KEYS[2] the board's rebuild key
-- KEYS[3] the board's rebuild lock (present while a rebuild runs)
-- KEYS[4] on a region's board only: the players moved out of it, each with the id of the
--         submission that made their entry when they left; a state no newer is a late mirror
--         from before the move, and stays off this board
-- ARGV    score, member [, score, member ...]
-- Returns the number of entries set on the live board.
local SPAN = 8589934592

local function sequence(score)
  return SPAN - 1 - math.fmod(tonumber(score), SPAN)
end

-- True when the key holds no state of the member newer than this one.
local function not_older(key, score, member)
  local current = redis.call('ZSCORE', key, member)
  return (not current) or sequence(current) <= sequence(score)
end

-- True when the member left this board in this state or a later one.
local function moved_out(score, member)
  local left = KEYS[4] and redis.call('HGET', KEYS[4], member)
  return left and tonumber(left) >= sequence(score)
end

local rebuilding = redis.call('EXISTS', KEYS[3]) == 1
local set = 0
for i = 1, #ARGV, 2 do
  local score, member = ARGV[i], ARGV[i + 1]
  -- A state older than the live board's is stale everywhere: a rebuild must not take it either.
  if not moved_out(score, member) and not_older(KEYS[1], score, member) then
    redis.call('ZADD', KEYS[1], score, member)
    set = set + 1
    if rebuilding and not_older(KEYS[2], score, member) then
      redis.call('ZADD', KEYS[2], score, member)
    end
  end
end
return set
