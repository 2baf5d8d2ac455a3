-- guard_blocks.lua: every block of a template's pumping guard that has not ended, by
-- Redis TIME (the clock the blocks were set by).
-- KEYS[1] the blocks (sorted set: member the key, score the end of its block in Unix ms)
-- Returns {key, ms left, key, ms left, ...}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local blocks = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.0f', now), '+inf', 'WITHSCORES')
local out = {}
for i = 1, #blocks, 2 do
  out[#out + 1] = blocks[i]
  out[#out + 1] = tonumber(blocks[i + 1]) - now
end
return out
