-- put_code.lua: stores a new code's hash, replacing (killing) the older code.
-- KEYS[1] the code
-- ARGV[1] the code's keyed hash (raw bytes), ARGV[2] attempts, ARGV[3] lifetime in milliseconds
-- Returns 1.

redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'a', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
