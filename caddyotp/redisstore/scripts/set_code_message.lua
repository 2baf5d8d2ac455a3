-- set_code_message.lua: notes the provider's message id on the live code (field m), if it
-- is still the one with the hash, so that check_code.lua can return it with a right code.
-- A newer code (put_code.lua starts it afresh) has none. The hash is the server's own,
-- never a guess, so a plain comparison is fine here.
-- KEYS[1] the code
-- ARGV[1] the code's keyed hash (raw bytes), ARGV[2] the message id
-- Returns 1 if the id was noted, 0 otherwise.

if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'm', ARGV[2])
  return 1
end
return 0
