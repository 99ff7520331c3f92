-- The compare-and-set that fires a tick exactly once, and the tick's jobs, in one script.
-- ARGV: id, expectedNextRunAt, nextRunAt or '', firedAt or '', overlap, now, count, the jobs'
-- fields (see `enqueueJobs` in lib.lua). Returns {'lost'}, {'skipped'} or {'fired', id…}.
local sk = P .. 'schedule:' .. ARGV[1]
local f = redis.call('HMGET', sk, 'enabled', 'nextRunAt', 'lastJobId')
if f[1] ~= '1' or f[2] ~= ARGV[2] then return { 'lost' } end
local now = tonumber(ARGV[6])
if ARGV[5] == 'skip' and f[3] then
  local state = redis.call('HGET', jk(f[3]), 'state')
  if state == 'scheduled' or state == 'queued' or state == 'running' then
    if ARGV[3] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[3]) else redis.call('HDEL', sk, 'nextRunAt') end
    redis.call('HSET', sk, 'updatedAt', now)
    return { 'skipped' }
  end
end
local results = enqueueJobs(ARGV[8], tonumber(ARGV[7]), now)
if ARGV[3] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[3]) else redis.call('HDEL', sk, 'nextRunAt') end
if ARGV[4] ~= '' then redis.call('HSET', sk, 'lastRunAt', ARGV[4]) end
if #results > 0 then redis.call('HSET', sk, 'lastJobId', results[#results][1]) end
redis.call('HSET', sk, 'updatedAt', now)
local out = { 'fired' }
for _, r in ipairs(results) do out[#out + 1] = r[1] end
return out
