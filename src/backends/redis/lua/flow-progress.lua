-- ARGV: flowId. Returns '' when no job of the flow exists, else JSON:
-- { counts = { state = n }, leaves = n, leafCounts = { state = n } } (a leaf waits for no other job).
local counts, leafCounts, total, leaves = {}, {}, 0, 0
for _, id in ipairs(redis.call('SMEMBERS', P .. 'flow:' .. ARGV[1])) do
  local f = redis.call('HMGET', jk(id), 'state', 'children')
  if f[1] then
    total = total + 1
    counts[f[1]] = (counts[f[1]] or 0) + 1
    if not f[2] or f[2] == '0' then
      leaves = leaves + 1
      leafCounts[f[1]] = (leafCounts[f[1]] or 0) + 1
    end
  end
end
if total == 0 then return '' end
-- An empty Lua table encodes as {} for cjson, which the reader takes as no counts.
return cjson.encode({ counts = counts, leaves = leaves, leafCounts = leafCounts })
