-- ARGV: id, token, list ('logs' or 'prog'), entry JSON, keep, progress JSON or ''. Returns 1,
-- or 0 when the lease is lost.
local id, token = ARGV[1], ARGV[2]
local f = redis.call('HMGET', jk(id), 'state', 'leaseToken')
if f[1] ~= 'running' or f[2] ~= token then return 0 end
local list = P .. ARGV[3] .. ':' .. id
redis.call('RPUSH', list, ARGV[4])
redis.call('LTRIM', list, -tonumber(ARGV[5]), -1)
if ARGV[6] ~= '' then redis.call('HSET', jk(id), 'progress', ARGV[6]) end
return 1
