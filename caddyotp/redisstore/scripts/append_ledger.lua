-- append_ledger.lua: appends one send attempt to the template's ledger stream and notes its
-- message id in the index; keeps exactly the newest ARGV[3] entries, dropping the index and
-- report entries of the ones trimmed, so that the hashes stay in step with the stream; and
-- refreshes the TTL of all three.
-- KEYS[1] the ledger (stream), KEYS[2] its index (message id → stream id), KEYS[3] its
-- reports (stream id → report)
-- ARGV[1] the entry as JSON, ARGV[2] its message id ('' for none), ARGV[3] entries to keep,
-- ARGV[4] TTL in ms
-- Returns the entry's stream id.

local ledger, ids, reports = KEYS[1], KEYS[2], KEYS[3]
local id
if ARGV[2] ~= '' then
  id = redis.call('XADD', ledger, '*', 'e', ARGV[1], 'm', ARGV[2])
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

for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ARGV[4])
end
return id
