-- ARGV: now. Deletes the registrations that lapsed by now; returns the others' JSON.
local now = ARGV[1]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'workers', '-inf', now)) do redis.call('DEL', P .. 'worker:' .. id) end
redis.call('ZREMRANGEBYSCORE', P .. 'workers', '-inf', now)
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'workers', '(' .. now, '+inf')) do
  local text = redis.call('GET', P .. 'worker:' .. id)
  if text then out[#out + 1] = text end
end
return out
