-- ARGV: id, now. Returns 'none', 'finished', 'requested' or 'cancelled'.
-- A flow job's parents are resolved in the same write; a waiting parent takes its unfinished
-- descendants with it (see resolveParents and cancelDescendants in lib.lua).
local id, now = ARGV[1], tonumber(ARGV[2])
local f = redis.call('HMGET', jk(id), 'state', 'queue', 'keepFailedMs', 'hasParents', 'runAt', 'name', 'flowId')
if not f[1] then return 'none' end
if f[1] == 'completed' or f[1] == 'failed' or f[1] == 'cancelled' then return 'finished' end
if f[1] == 'running' then
  redis.call('HSET', jk(id), 'cancelRequested', '1')
  redis.call('PUBLISH', P .. 'events', 'c:' .. id)
  return 'requested'
end
redis.call('ZREM', P .. 'ready:' .. f[2], id)
redis.call('ZREM', P .. 'scheduled', id)
local keep = num(f[3])
finish(id, f[2], f[1], 'cancelled', now, keep and (now + keep) or nil)
local waiting = f[1] == 'scheduled' and f[5] == waitingRunAt
-- A job outside a flow delayed to that very time was never counted as waiting.
if waiting and f[7] then leftWaiting(f[2]) end
if f[4] == '1' or waiting then
  local work = { { id, f[6], 'cancelled' } }
  if waiting then cancelDescendants(id, now, work) end
  resolveParents(work, now)
end
return 'cancelled'
