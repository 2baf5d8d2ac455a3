-- drop_code.lua: removes the code if it is still the one with the hash, so that a failed
-- send removes its own code and never a newer one. The hash is the server's own, never a
-- guess, so a plain comparison is fine here.
-- KEYS[1] the code
-- ARGV[1] the code's keyed hash (raw bytes)
-- Returns 1 if the code was removed, 0 otherwise.

if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
