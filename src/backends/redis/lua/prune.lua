-- ARGV: now, finishedBy or '', expired '1'/'0', nStates, states…, statsCutoffBucket. Returns how
-- many jobs were removed. A job whose failed hook is pending stays until the hook has run, and
-- a flow child while a parent of it has not finished (the parent reads its result).
local now = tonumber(ARGV[1])
local removed = 0
local states = {}
for i = 1, tonumber(ARGV[4]) do states[ARGV[4 + i]] = true end
if ARGV[2] ~= '' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'finished', '-inf', ARGV[2], 'LIMIT', 0, 10000)) do
    local f = redis.call('HMGET', jk(id), 'state', 'failedHook', 'hasParents')
    if states[f[1]] and f[2] ~= 'pending' and not (f[3] == '1' and awaitedByParent(id)) and removeJob(id, now) then removed = removed + 1 end
  end
end
if ARGV[3] == '1' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'expiry', '-inf', now, 'LIMIT', 0, 10000)) do
    local f = redis.call('HMGET', jk(id), 'failedHook', 'hasParents')
    if f[1] ~= 'pending' and not (f[2] == '1' and awaitedByParent(id)) and removeJob(id, now) then removed = removed + 1 end
  end
end
local cutoff = tonumber(ARGV[5 + tonumber(ARGV[4])])
for _, queue in ipairs(redis.call('HKEYS', P .. 'queues')) do
  local key = P .. 'done:' .. queue
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if tonumber(string.sub(field, 3)) <= cutoff then redis.call('HDEL', key, field) end
  end
end
return removed
