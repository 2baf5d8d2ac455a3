-- claim_send.lua: the first step of a send to one mobile and template.
-- KEYS[1] the mobile's lock in the template's lock group, KEYS[2] the template's cooldown
-- for the mobile
-- ARGV[1] the send's nonce, ARGV[2] the resend interval in milliseconds (0: no interval,
-- only the lock is checked)
-- Returns {status, retry_after_ms}: 0 claimed, 1 locked, 2 too soon.
-- Repeating a call with the same nonce claims again (safe if a reply was lost).

local lock_ttl = redis.call('PTTL', KEYS[1])
if lock_ttl > 0 then
  return {1, lock_ttl}
end
if lock_ttl == -1 then
  -- a lock without a TTL must never exist; fail closed for one interval and repair it
  redis.call('PEXPIRE', KEYS[1], 60000)
  return {1, 60000}
end

if tonumber(ARGV[2]) <= 0 then
  return {0, 0}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, 0}
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  return {0, 0}
end
local cool_ttl = redis.call('PTTL', KEYS[2])
if cool_ttl < 0 then
  -- no TTL (never set so) or gone meanwhile: give it one so it cannot block forever
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  cool_ttl = tonumber(ARGV[2])
end
return {2, cool_ttl}
