-- revoke_session.lua: revokes a gate session until its absolute expiry, drops the
-- revocations whose time has passed, and announces the revocation to every instance.
-- Safe to run twice: the set keeps one entry per id, and a repeated announcement is
-- harmless to the watchers.
-- KEYS[1] the revoked sessions (sorted set: member the id, score the end in Unix ms)
-- ARGV[1] the session id, ARGV[2] the end of the revocation in Unix ms,
-- ARGV[3] the channel to publish on, ARGV[4] the clock skew allowed between instances in ms
-- Returns the end of the id's revocation in Unix ms (the later one if it was revoked before).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local skew = tonumber(ARGV[4])
local until_ms = tonumber(ARGV[2])

-- the end was set by another instance's clock: keep entries a little past it
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now - skew))

local old = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '')
if old == nil or old < until_ms then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
else
  until_ms = old
end

-- the set lives as long as its latest revocation
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local ttl = tonumber(last[2]) - now + skew
if ttl < 1000 then ttl = 1000 end
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))

redis.call('PUBLISH', ARGV[3], ARGV[1] .. ' ' .. string.format('%.0f', until_ms))
return until_ms
