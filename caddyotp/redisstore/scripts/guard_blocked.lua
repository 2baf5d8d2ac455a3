-- guard_blocked.lua: how long the longest block of some keys of a template's pumping
-- guard still lasts, by Redis TIME (the clock the blocks were set by).
-- KEYS[1] the blocks (sorted set: member the key, score the end of its block in Unix ms)
-- ARGV the guard keys
-- Returns the time left in ms, 0 when none of the keys is blocked.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local longest = 0
for i = 1, #ARGV do
  local ends = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]) or '')
  if ends and ends - now > longest then
    longest = ends - now
  end
end
return longest
