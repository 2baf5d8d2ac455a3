-- allow.lua: takes one send from a limit with GCRA (count sends in any window, refilled
-- smoothly). The key holds the theoretical arrival time (TAT) in microseconds of Redis TIME,
-- so every instance uses one clock.
-- KEYS[1] the limit
-- ARGV[1] the window in ms, ARGV[2] the count
-- Returns {allowed (1 or 0), retry_after_ms}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1]) * 1000
local interval = math.floor(window / tonumber(ARGV[2]))
if interval < 1 then interval = 1 end

local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end

local next_tat = tat + interval
if next_tat - now > window then
  return {0, math.ceil((next_tat - window - now) / 1000)}
end
-- the key lives exactly as long as it still matters
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX',
  string.format('%.0f', math.ceil((next_tat - now) / 1000)))
return {1, 0}
