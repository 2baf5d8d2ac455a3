-- apply_report.lua: gives the ledger entry of a message id its report, once, and counts the
-- report in the daily counts of the entry's day and country in the same step.
-- KEYS[1] the ledger (stream), KEYS[2] its index (message id → stream id), KEYS[3] its
-- reports (stream id → report)
-- ARGV[1] the message id, ARGV[2] the report as JSON, ARGV[3] the ledger's TTL in ms (for
-- a ledger that has none), ARGV[4] the start of the template's daily counts' keys (with
-- the ledger's tag), ARGV[5] the counter of the report's status (delivered or failed),
-- ARGV[6] the billed price in micro-USD ('' for none), ARGV[7] the counts' TTL in ms
-- The billed counter moves by the report's price less the price billed at the send (the
-- entry's b, none before a send told one): caddyotp.BilledCorrection.
-- Returns {0} unknown (no entry kept has the id), {1} duplicate (the entry has taken a
-- report before; nothing changed), or {2, the entry as JSON} applied.

local ledger, ids, reports = KEYS[1], KEYS[2], KEYS[3]
local sid = redis.call('HGET', ids, ARGV[1])
if not sid then
  return {0}
end
local found = redis.call('XRANGE', ledger, sid, sid)
if #found == 0 then
  -- the index outlived its entry (append_ledger.lua trims both, so only after a manual
  -- change): repair it
  redis.call('HDEL', ids, ARGV[1])
  redis.call('HDEL', reports, sid)
  return {0}
end
if redis.call('HSETNX', reports, sid, ARGV[2]) == 0 then
  return {1}
end
-- the reports live as long as the ledger
local ttl = redis.call('PTTL', ledger)
if ttl <= 0 then
  ttl = ARGV[3]
end
redis.call('PEXPIRE', reports, ttl)

local fields = found[1][2]
local entry, date, country, billedAtSend = '', nil, nil, 0
for i = 1, #fields, 2 do
  if fields[i] == 'e' then
    entry = fields[i + 1]
  elseif fields[i] == 'd' then
    date = fields[i + 1]
  elseif fields[i] == 'c' then
    country = fields[i + 1]
  elseif fields[i] == 'b' then
    billedAtSend = tonumber(fields[i + 1])
  end
end

-- An entry appended before the daily counts existed has no day: its send was not counted
-- either, and neither is its report. The day's key is made here, from the entry, but
-- starts with the ledger's tag: the script stays in the ledger's slot.
if date and country then
  local day = ARGV[4] .. date
  redis.call('HINCRBY', day, country .. ':' .. ARGV[5], 1)
  if ARGV[6] ~= '' then
    redis.call('HINCRBY', day, country .. ':billed', tonumber(ARGV[6]) - billedAtSend)
  end
  redis.call('PEXPIRE', day, ARGV[7])
end
return {2, entry}
