-- ARGV: id, '1' or '0', nextRunAt or '', now. Returns the fields, or an empty list when there
-- is no such schedule.
local sk = P .. 'schedule:' .. ARGV[1]
local enabled = redis.call('HGET', sk, 'enabled')
if not enabled then return {} end
if enabled ~= ARGV[2] then
  redis.call('HSET', sk, 'enabled', ARGV[2], 'updatedAt', ARGV[4])
  if ARGV[2] == '1' then
    if ARGV[3] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[3]) else redis.call('HDEL', sk, 'nextRunAt') end
  end
end
return redis.call('HGETALL', sk)
