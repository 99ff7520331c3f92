-- `job.now()`: adds one job already running. ARGV: now, token, worker, leaseMs, the job's fields
-- (see `enqueueJobs` in lib.lua). Returns {id, created}.
local now = tonumber(ARGV[1])
local result = enqueueJobs(ARGV[5], 1, now)[1]
if result[2] == 1 then
  local f = redis.call('HMGET', jk(result[1]), 'queue', 'state')
  redis.call('ZREM', P .. 'ready:' .. f[1], result[1])
  redis.call('ZREM', P .. 'scheduled', result[1])
  setState(result[1], f[1], f[2], 'running')
  startJob(result[1], now, ARGV[2], ARGV[3], tonumber(ARGV[4]))
end
return result
