-- release_budget.lua: gives back a reservation of reserve_budget.lua, never below zero.
-- A key that is gone (its day or month is long over) is not created again.
-- KEYS[1] the UTC day's spend, KEYS[2] the UTC month's spend
-- ARGV[1] micro-USD
-- Returns 1.

for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    if redis.call('DECRBY', key, ARGV[1]) < 0 then
      redis.call('SET', key, '0', 'KEEPTTL')
    end
  end
end
return 1
