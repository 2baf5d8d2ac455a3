-- take_lease.lua: takes a report reader's lease when it is free, or renews it when the
-- holder has it already.
-- KEYS[1] the lease
-- ARGV[1] the holder, ARGV[2] the lease's length in ms
-- Returns 1 if the holder has the lease, 0 if another one does.

if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
