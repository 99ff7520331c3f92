-- ARGV: id, now. Returns 'none', 'ok', 'key:<key>', 'hook-pending' or the state that forbids it.
local id, now = ARGV[1], tonumber(ARGV[2])
local f = redis.call('HMGET', jk(id), 'state', 'queue', 'priority', 'name', 'key', 'failedHook')
if not f[1] then return 'none' end
if f[1] ~= 'failed' and f[1] ~= 'cancelled' then return f[1] end
if f[6] == 'pending' then return 'hook-pending' end
if f[5] then
  local k = f[4] .. '\0' .. f[5]
  if redis.call('HEXISTS', P .. 'keys', k) == 1 then return 'key:' .. f[5] end
  redis.call('HSET', P .. 'keys', k, id)
end
redis.call('HSET', jk(id), 'attempts', 0, 'crashes', 0, 'runAt', now, 'cancelRequested', '0')
redis.call('HDEL', jk(id), 'finishedAt', 'expiresAt', 'failedHook')
redis.call('ZREM', P .. 'expiry', id)
redis.call('ZREM', P .. 'finished', id)
setState(id, f[2], f[1], 'queued')
makeReady(id, f[2], tonumber(f[3]), now)
redis.call('PUBLISH', P .. 'events', 'q:' .. f[2])
return 'ok'
