-- Idempotent upsert. ARGV: id, spec text, enabled ('1', '0' or '' to keep), nextRunAt or '', now.
-- Unchanged spec: keeps the run times. Returns the schedule's fields as a flat list.
local sk = P .. 'schedule:' .. ARGV[1]
local spec = redis.call('HGET', sk, 'spec')
local now = ARGV[5]
if spec == ARGV[2] then
  local enabled = redis.call('HGET', sk, 'enabled')
  if ARGV[3] ~= '' and ARGV[3] ~= enabled then
    redis.call('HSET', sk, 'enabled', ARGV[3], 'updatedAt', now)
    if ARGV[3] == '1' then
      if ARGV[4] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[4]) else redis.call('HDEL', sk, 'nextRunAt') end
    end
  end
else
  local enabled = ARGV[3]
  if enabled == '' then enabled = redis.call('HGET', sk, 'enabled') or '1' end
  if not spec then redis.call('HSET', sk, 'createdAt', now) end
  redis.call('HSET', sk, 'id', ARGV[1], 'spec', ARGV[2], 'enabled', enabled, 'updatedAt', now)
  if ARGV[4] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[4]) else redis.call('HDEL', sk, 'nextRunAt') end
  redis.call('ZADD', P .. 'schedules', 0, ARGV[1])
end
return redis.call('HGETALL', sk)
