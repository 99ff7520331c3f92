-- ARGV: id, token, step name, step record JSON. Returns 1, or 0 when the lease is lost.
-- The record is stored as "<seq> <json>": a name recorded before keeps its seq (its place
-- among steps that started in the same ms), a new one takes the next.
local id, token = ARGV[1], ARGV[2]
local f = redis.call('HMGET', jk(id), 'state', 'leaseToken')
if f[1] ~= 'running' or f[2] ~= token then return 0 end
local steps = P .. 'steps:' .. id
local old = redis.call('HGET', steps, ARGV[3])
local seq = old and string.match(old, '^(%d+) ') or tostring(redis.call('HLEN', steps) + 1)
redis.call('HSET', steps, ARGV[3], seq .. ' ' .. ARGV[4])
return 1
