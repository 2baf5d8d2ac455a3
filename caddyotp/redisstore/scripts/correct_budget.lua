-- correct_budget.lua: moves the spend of a ledger entry's UTC day and month by what its
-- delivery report billed less the estimate reserved: no cap (the money is spent), never
-- below zero, and a period whose key is gone (long over) is not created again.
-- KEYS[1] the UTC day's spend, KEYS[2] the UTC month's spend (both {budget}-tagged)
-- ARGV[1] micro-USD, positive or negative
-- Returns 1.

for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    if redis.call('INCRBY', key, ARGV[1]) < 0 then
      redis.call('SET', key, '0', 'KEEPTTL')
    end
  end
end
return 1
