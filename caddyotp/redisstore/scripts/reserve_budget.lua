-- reserve_budget.lua: adds a send's estimated price to the day's and the month's spend
-- unless that would pass a cap.
-- KEYS[1] the UTC day's spend, KEYS[2] the UTC month's spend (both {budget}-tagged)
-- ARGV[1] micro-USD, ARGV[2] daily cap, ARGV[3] monthly cap (0: none),
-- ARGV[4] the day key's TTL in ms, ARGV[5] the month key's TTL in ms
-- Returns 0 reserved, 1 over the daily cap, 2 over the monthly cap.

local amount = tonumber(ARGV[1])
local day_cap, month_cap = tonumber(ARGV[2]), tonumber(ARGV[3])
local day = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local month = tonumber(redis.call('GET', KEYS[2]) or '0') or 0

-- the month first: when both are spent, only the next month helps
if month_cap > 0 and month + amount > month_cap then
  return 2
end
if day_cap > 0 and day + amount > day_cap then
  return 1
end

redis.call('INCRBY', KEYS[1], amount)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('INCRBY', KEYS[2], amount)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 0
