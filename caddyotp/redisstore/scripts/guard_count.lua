-- guard_count.lua: counts one SMS sent or one code used under each key of a template's
-- pumping guard, in the fixed window of the count's time. After a send it judges each key
-- on its rolling counts as caddyotp.GuardJudge does, and blocks the keys that reach the
-- mark and are not blocked already. The keys share the template's tag {guard:<template>}.
-- KEYS[1] the current window's counts (hash: "sent:<key>", "verified:<key>" → count)
-- KEYS[2] the previous window's counts
-- KEYS[3] the blocks (sorted set: member the key, score the end of its block in Unix ms)
-- ARGV[1] 1 to count a code used, 0 a send; ARGV[2] the counts' TTL in ms (two windows)
-- ARGV[3] the share of the previous window that the rolling one still covers (0 to 1)
-- ARGV[4] min sends, ARGV[5] min conversion, ARGV[6] the block's length in ms
-- ARGV[7...] the guard keys
-- Returns the keys this send blocked.

local counter = ARGV[1] == '1' and 'verified' or 'sent'
for i = 7, #ARGV do
  redis.call('HINCRBY', KEYS[1], counter .. ':' .. ARGV[i], 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if counter == 'verified' then
  return {}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local share, min_sends, min_conversion = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local block = tonumber(ARGV[6])

-- caddyotp.GuardWindowCounts: all of the current window and a share of the previous one
local function rolling(field)
  local current = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  local previous = tonumber(redis.call('HGET', KEYS[2], field) or '0')
  return current + previous * share
end

-- a block ending now has ended
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now))

local blocked = {}
for i = 7, #ARGV do
  local key = ARGV[i]
  local sent, used = rolling('sent:' .. key), rolling('verified:' .. key)
  if sent >= min_sends and sent > 0 and used / sent < min_conversion
      and not redis.call('ZSCORE', KEYS[3], key) then
    redis.call('ZADD', KEYS[3], string.format('%.0f', now + block), key)
    blocked[#blocked + 1] = key
  end
end

-- the set lives as long as its latest block
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
if #last == 2 then
  redis.call('PEXPIRE', KEYS[3], string.format('%.0f', tonumber(last[2]) - now))
end
return blocked
