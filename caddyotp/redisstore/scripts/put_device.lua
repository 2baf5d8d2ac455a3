-- put_device.lua: records a remembered device of one realm and mobile. In the same step
-- it drops the devices that have expired and, past the cap, the live one that expires
-- first (then the one created first, then the lowest id; never the one being put), and
-- keeps the hash until its last device expires. Safe to run twice: the second run puts
-- the same value again.
-- KEYS[1] the realm and mobile's devices (hash: field the device id, value
--         "<created>:<expires>:<user>", times in Unix ms)
-- ARGV[1] the device id, ARGV[2] its value, ARGV[3] now in Unix ms (the clock the
-- caller judges expiry by), ARGV[4] the most live devices kept
-- Returns how many live devices the cap dropped.

local now = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])

-- the expiry and creation of a value, nil for a value of another form
local function times(v)
  local created, expires = string.match(v, '^(%-?%d+):(%-?%d+):')
  return tonumber(expires), tonumber(created)
end

local live = {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local id = fields[i]
  local expires, created = times(fields[i + 1])
  if id ~= ARGV[1] then
    if expires == nil or expires <= now then
      redis.call('HDEL', KEYS[1], id) -- expired, or nothing a device can be
    else
      live[#live + 1] = {id = id, expires = expires, created = created}
    end
  end
end

local dropped = 0
while #live >= cap do
  local first = 1
  for i = 2, #live do
    local d, f = live[i], live[first]
    if d.expires < f.expires or (d.expires == f.expires and
        (d.created < f.created or (d.created == f.created and d.id < f.id))) then
      first = i
    end
  end
  redis.call('HDEL', KEYS[1], live[first].id)
  table.remove(live, first)
  dropped = dropped + 1
end

redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local last = times(ARGV[2])
for _, d in ipairs(live) do
  if d.expires > last then last = d.expires end
end
local ttl = last - now
if ttl < 1 then ttl = 1 end
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
return dropped
