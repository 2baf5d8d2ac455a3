-- append_ledger.lua: appends one send attempt to the template's ledger stream, keeping
-- about the newest ARGV[2] entries (never fewer), and refreshes the stream's TTL.
-- KEYS[1] the ledger
-- ARGV[1] the entry as JSON, ARGV[2] entries to keep, ARGV[3] TTL in ms
-- Returns the entry's stream id.

local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return id
