-- Count one request against a fixed-window limit.
-- KEYS[1] the counter
-- ARGV[1] the window in milliseconds
-- Returns {requests counted in the window, milliseconds until it resets}. A refused request
-- still counts, so hammering a closed window does not reopen it early.
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
