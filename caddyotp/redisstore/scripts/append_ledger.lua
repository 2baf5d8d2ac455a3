-- append_ledger.lua: appends one send attempt to the template's ledger stream and notes its
-- message id in the index; keeps exactly the newest ARGV[3] entries, dropping the index and
-- report entries of the ones trimmed, so that the hashes stay in step with the stream; and
-- refreshes the TTL of all three. An SMS that left (ARGV[7] = 1) is counted in the same
-- step in the daily counts of its day and country, with the price its provider told at the
-- send (ARGV[10]) as billed.
-- KEYS[1] the ledger (stream), KEYS[2] its index (message id → stream id), KEYS[3] its
-- reports (stream id → report), KEYS[4] the daily counts of the entry's UTC day (a hash
-- of "<country>:<counter>", with the ledger's tag)
-- ARGV[1] the entry as JSON, ARGV[2] its message id ('' for none), ARGV[3] entries to keep,
-- ARGV[4] TTL in ms, ARGV[5] the entry's UTC day (2006-01-02), ARGV[6] its country as
-- counted, ARGV[7] 1 when the SMS left (counted as sent) or 0, ARGV[8] its estimate in
-- micro-USD, ARGV[9] the counts' TTL in ms, ARGV[10] the price its provider told at the
-- send in micro-USD ('' for none)
-- Returns the entry's stream id.

local ledger, ids, reports, day = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id
if ARGV[2] ~= '' then
  -- d and c: the day and country that apply_report.lua counts the entry's report under;
  -- b: the price billed at the send, which a report's billed price replaces
  local fields = {'e', ARGV[1], 'm', ARGV[2], 'd', ARGV[5], 'c', ARGV[6]}
  if ARGV[10] ~= '' then
    fields[#fields + 1], fields[#fields + 2] = 'b', ARGV[10]
  end
  id = redis.call('XADD', ledger, '*', unpack(fields))
  -- a newer entry of the same id takes the id over; the older one keeps its report
  redis.call('HSET', ids, ARGV[2], id)
else
  id = redis.call('XADD', ledger, '*', 'e', ARGV[1])
end

local keep = tonumber(ARGV[3])
local surplus = redis.call('XLEN', ledger) - keep
if surplus > 0 then
  for _, entry in ipairs(redis.call('XRANGE', ledger, '-', '+', 'COUNT', surplus)) do
    local sid, fields = entry[1], entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'm' and redis.call('HGET', ids, fields[i + 1]) == sid then
        redis.call('HDEL', ids, fields[i + 1])
      end
    end
    redis.call('HDEL', reports, sid)
  end
  -- exact, not MAXLEN ~: an entry the hashes still name must be in the stream
  redis.call('XTRIM', ledger, 'MAXLEN', keep)
end

for _, key in ipairs({ledger, ids, reports}) do
  redis.call('PEXPIRE', key, ARGV[4])
end

if ARGV[7] == '1' then
  redis.call('HINCRBY', day, ARGV[6] .. ':sent', 1)
  redis.call('HINCRBY', day, ARGV[6] .. ':estimated', ARGV[8])
  if ARGV[10] ~= '' then
    redis.call('HINCRBY', day, ARGV[6] .. ':billed', ARGV[10])
  end
  redis.call('PEXPIRE', day, ARGV[9])
end
return id
