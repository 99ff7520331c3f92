-- ARGV: expiresAt, n, then id, token pairs. Returns per lease: 0 lost, 1 held, 2 held with a
-- cancel asked for.
local expires = tonumber(ARGV[1])
local out = {}
for i = 0, tonumber(ARGV[2]) - 1 do
  local id, token = ARGV[3 + i * 2], ARGV[4 + i * 2]
  local f = redis.call('HMGET', jk(id), 'state', 'leaseToken', 'cancelRequested', 'failedHook')
  -- A running attempt's lease, or that of a failed job's pending hook.
  if f[2] == token and (f[1] == 'running' or f[4] == 'pending') then
    redis.call('HSET', jk(id), 'leaseExpiresAt', expires)
    redis.call('ZADD', P .. (f[1] == 'running' and 'running' or 'hooks'), expires, id)
    out[#out + 1] = f[3] == '1' and 2 or 1
  else
    out[#out + 1] = 0
  end
end
return out
