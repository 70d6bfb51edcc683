-- Note that players are connected to a match now, if the match is still kept (a mark must not
-- bring back a match whose hash is gone as a hash without its state), and tell whether the match
-- has gone without a change for longer than it may.
-- KEYS[1] the match's hash
-- ARGV[1] the time now (seconds since the epoch)
-- ARGV[2] seconds a match may go without a change
-- ARGV[3..] the players connected
-- Returns 0 if the match is gone, 2 if it went without a change too long, else 1.
local changed_at = redis.call('HGET', KEYS[1], 'changed_at')
if not changed_at then
  return 0
end
for i = 3, #ARGV do
  redis.call('HSET', KEYS[1], 'seen:' .. ARGV[i], ARGV[1])
end
if tonumber(ARGV[1]) - tonumber(changed_at) > tonumber(ARGV[2]) then
  return 2
end
return 1
