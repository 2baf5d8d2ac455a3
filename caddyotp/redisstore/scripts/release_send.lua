-- release_send.lua: ends a resend interval if it is still the one started with the nonce,
-- so that a late release never ends a newer send's interval.
-- KEYS[1] the template's cooldown for the mobile
-- ARGV[1] the nonce given to claim_send.lua
-- Returns 1 if the interval was ended, 0 otherwise.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
