-- forget_devices.lua: removes every remembered device of one realm and mobile ("sign out
-- everywhere"), and counts those that were live.
-- KEYS[1] the realm and mobile's devices (hash: field the device id, value
--         "<created>:<expires>:<user>", times in Unix ms)
-- ARGV[1] now in Unix ms (the clock the caller judges expiry by)
-- Returns how many devices were live at now. A value of another form counts as none, and
-- goes with the rest: forgetting never stops at it.

local now = tonumber(ARGV[1])
local live = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local expires = tonumber(string.match(v, '^%-?%d+:(%-?%d+):') or '')
  if expires ~= nil and expires > now then
    live = live + 1
  end
end
redis.call('DEL', KEYS[1])
return live
