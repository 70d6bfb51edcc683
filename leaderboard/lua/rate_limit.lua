-- Count one request against several fixed-window limits at once.
-- KEYS    one counter per limit
-- ARGV    limit, window in milliseconds, for each key in turn
-- Returns {allowed (1/0), limit, requests left, milliseconds until reset} for the limit that
-- decides: the exceeded one that resets last if any is exceeded, else the one with fewest left.
-- A refused request still counts, so hammering a closed window does not reopen it early.
local allowed, limit_out, left_out, reset_out = 1, 0, math.huge, 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  local left = math.max(limit - count, 0)
  if count > limit then
    if allowed == 1 or ttl > reset_out then
      limit_out, left_out, reset_out = limit, 0, ttl
    end
    allowed = 0
  elseif allowed == 1 and left < left_out then
    limit_out, left_out, reset_out = limit, left, ttl
  end
end
return {allowed, limit_out, left_out, reset_out}
