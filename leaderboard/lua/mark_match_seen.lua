-- Note that players are connected to a match now, if the match is still kept (a mark must not
-- bring back an expired match as a hash without its state).
-- KEYS[1] the match's hash
-- ARGV[1] the time now (seconds since the epoch)
-- ARGV[2..] the players connected
-- Returns 1 if marked, 0 if the match is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
for i = 2, #ARGV do
  redis.call('HSET', KEYS[1], 'seen:' .. ARGV[i], ARGV[1])
end
return 1
