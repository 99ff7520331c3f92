-- ARGV: id, now. Returns 'none', 'running', 'hook-pending' or 'deleted'.
local f = redis.call('HMGET', jk(ARGV[1]), 'state', 'failedHook')
if not f[1] then return 'none' end
if f[1] == 'running' then return 'running' end
if f[2] == 'pending' then return 'hook-pending' end
removeJob(ARGV[1], tonumber(ARGV[2]))
return 'deleted'
