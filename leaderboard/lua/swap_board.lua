-- Make the rebuilt board the live one, with its header, and end the rebuild, atomically, without
-- blocking Redis to free the old board.
-- KEYS[1] the live board
-- KEYS[2] the board's rebuild key (absent when the board is now empty)
-- KEYS[3] the board's rebuild lock
-- KEYS[4] a scratch name for the old board
-- ARGV[1] the board's header: the member above every entry that names its rules and tells
--         readers the board is whole
-- Returns the number of entries on the live board afterwards.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[4])
  -- UNLINK frees a large old board in a background thread; RENAME over it would free it inline.
  redis.call('UNLINK', KEYS[4])
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[1])
  redis.call('PERSIST', KEYS[1])
end
redis.call('DEL', KEYS[3])
redis.call('ZADD', KEYS[1], '+inf', ARGV[1])
return redis.call('ZCARD', KEYS[1]) - 1
