-- read_ledger.lua: the newest entries of a template's ledger, newest first, each with the
-- report it took, read in one step.
-- KEYS[1] the ledger (stream), KEYS[2] its reports (stream id → report)
-- ARGV[1] the most entries to return
-- Returns {entry JSON, report JSON or '', entry JSON, report JSON or '', …}; an entry
-- without JSON gives ''.

local out = {}
for _, entry in ipairs(redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[1])) do
  local sid, fields = entry[1], entry[2]
  local json = ''
  for i = 1, #fields, 2 do
    if fields[i] == 'e' then
      json = fields[i + 1]
    end
  end
  out[#out + 1] = json
  out[#out + 1] = redis.call('HGET', KEYS[2], sid) or ''
end
return out
