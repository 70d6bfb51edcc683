-- Replace a match's state if nobody changed it since it was read, and publish the new state:
-- of two changes made from the same state, one applies and the other finds the version moved.
-- KEYS[1] the match's hash
-- ARGV[1] the version the change was made from
-- ARGV[2] the new state, as stored
-- ARGV[3] the match's channel
-- ARGV[4] the STATE message to publish after the new version and a '|'
-- ARGV[5] seconds the match's hash is kept without another change
-- ARGV[6] the time now (seconds since the epoch): when the match last changed
-- Returns the new version, or -1 if the version moved (or the match is gone).
local version = redis.call('HGET', KEYS[1], 'version')
if version ~= ARGV[1] then
  return -1
end
local changed = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'version', changed, 'state', ARGV[2], 'changed_at', ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[3], changed .. '|' .. ARGV[4])
return changed
