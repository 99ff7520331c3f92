-- ARGV: flowId. Returns '' when no job of the flow exists, else JSON:
-- { counts = { state = n }, leaves = n, leavesFinished = n } (a leaf waits for no other job).
local counts, total, leaves, leavesFinished = {}, 0, 0, 0
for _, id in ipairs(redis.call('SMEMBERS', P .. 'flow:' .. ARGV[1])) do
  local f = redis.call('HMGET', jk(id), 'state', 'children')
  if f[1] then
    total = total + 1
    counts[f[1]] = (counts[f[1]] or 0) + 1
    if not f[2] or f[2] == '0' then
      leaves = leaves + 1
      if isFinished(f[1]) then leavesFinished = leavesFinished + 1 end
    end
  end
end
if total == 0 then return '' end
return cjson.encode({ counts = counts, leaves = leaves, leavesFinished = leavesFinished })
