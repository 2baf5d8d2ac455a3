-- check_code.lua: checks a guess against the live code and consumes it in the same step.
-- KEYS[1] the code, KEYS[2] the mobile's failure run in the lock group, KEYS[3] the mobile's
-- lock in the group, KEYS[4] the number of locks in the run
-- ARGV[1] the guess's keyed hash (raw bytes), ARGV[2] lock after every N failures (0: never),
-- ARGV[3] first lock in ms, ARGV[4] longest lock in ms, ARGV[5] run window in ms,
-- ARGV[6] the ceiling: from this failure of a run on, every failure locks for the window
-- and the run lasts a window past the lock (0: none)
-- Returns {outcome, attempts_left, retry_after_ms, locked_now} with outcome
-- 0 verified, 1 incorrect, 2 burned, 3 expired, 4 locked; a verified code adds its message
-- id ('' for none) as a fifth element.

local code, fail, lock, locks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local after, base, max, window, ceiling =
  tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- While locked nothing is checked and the code is left as it is.
local lock_ttl = redis.call('PTTL', lock)
if lock_ttl > 0 then
  return {4, 0, lock_ttl, 0}
end
if lock_ttl == -1 then
  -- a lock without a TTL must never exist; fail closed for the longest lock and repair it
  redis.call('PEXPIRE', lock, max)
  return {4, 0, max, 0}
end

local stored = redis.call('HGET', code, 'h')
if not stored then
  return {3, 0, 0, 0}
end

-- Constant time: every byte is compared whatever the first difference. Both are
-- HMAC-SHA-256 outputs, so their length is no secret.
local guess = ARGV[1]
local same = #stored == #guess
if same then
  local diff = 0
  for i = 1, #stored do
    diff = bit.bor(diff, bit.bxor(string.byte(stored, i), string.byte(guess, i)))
  end
  same = diff == 0
end

if same then
  -- the message id set_code_message.lua noted, for the provider's feedback
  local message = redis.call('HGET', code, 'm') or ''
  redis.call('DEL', code, fail, locks)
  return {0, 0, 0, 0, message}
end

local left = redis.call('HINCRBY', code, 'a', -1)
local failures = redis.call('INCR', fail)
redis.call('PEXPIRE', fail, window)
-- the lock count belongs to the run: it is forgotten with the failures, not before
redis.call('PEXPIRE', locks, window)

local retry, locked_now = 0, 0
if ceiling > 0 and failures >= ceiling then
  -- past the ceiling every failure locks for the window, and the run outlives the lock
  redis.call('SET', lock, '1', 'PX', string.format('%d', window))
  redis.call('PEXPIRE', fail, 2 * window)
  redis.call('PEXPIRE', locks, 2 * window)
  retry, locked_now = window, 1
elseif after > 0 and failures % after == 0 then
  local n = redis.call('INCR', locks)
  redis.call('PEXPIRE', locks, window)
  local d = base
  for _ = 2, n do
    d = d * 2
    if d >= max then break end
  end
  if d > max then d = max end
  redis.call('SET', lock, '1', 'PX', string.format('%d', d))
  retry, locked_now = d, 1
end

if left <= 0 then
  redis.call('DEL', code)
  return {2, 0, retry, locked_now}
end
return {1, left, retry, locked_now}
