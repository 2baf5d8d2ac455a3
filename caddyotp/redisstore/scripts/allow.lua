-- allow.lua: takes one send from every limit of a send, all or nothing, with GCRA (count
-- sends in any window, refilled smoothly). Every limit is checked before any is charged,
-- so a send refused by one limit spends none of the others. The keys are one template's
-- limits and share its hash tag. Each holds the theoretical arrival time (TAT) in
-- microseconds of Redis TIME, so every instance uses one clock.
-- KEYS[i] the i-th limit
-- ARGV[2i-1] its window in ms, ARGV[2i] its count
-- Returns {allowed (1 or 0), the first refusing limit's index (1-based; 0 when allowed),
-- the longest wait of the refusing limits in ms}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local next_tats = {}
local refused, retry = 0, 0
for i = 1, #KEYS do
  local window = tonumber(ARGV[2 * i - 1]) * 1000
  local interval = math.floor(window / tonumber(ARGV[2 * i]))
  if interval < 1 then interval = 1 end

  local tat = tonumber(redis.call('GET', KEYS[i]) or '') or now
  if tat < now then tat = now end

  local next_tat = tat + interval
  if next_tat - now > window then
    if refused == 0 then refused = i end
    local wait = math.ceil((next_tat - window - now) / 1000)
    if wait > retry then retry = wait end
  end
  next_tats[i] = next_tat
end

if refused > 0 then
  return {0, refused, retry}
end
for i = 1, #KEYS do
  -- the key lives exactly as long as it still matters
  redis.call('SET', KEYS[i], string.format('%.0f', next_tats[i]), 'PX',
    string.format('%.0f', math.ceil((next_tats[i] - now) / 1000)))
end
return {1, 0, 0}
