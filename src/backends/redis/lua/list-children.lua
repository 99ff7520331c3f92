-- ARGV: parent id. Returns its children in the order its dependencies were given, each
-- { id, policy, name, state, result, error, finishedAt } (nil for what the child lacks, and
-- state nil for a child deleted or pruned since).
local rows = {}
local flat = redis.call('HGETALL', P .. 'children:' .. ARGV[1])
for i = 1, #flat, 2 do
  local index, policy, _, name = parseDependency(flat[i + 1])
  rows[#rows + 1] = { tonumber(index), flat[i], policy, name }
end
table.sort(rows, function(a, b) return a[1] < b[1] end)
local out = {}
for i, row in ipairs(rows) do
  local f = redis.call('HMGET', jk(row[2]), 'state', 'result', 'error', 'finishedAt')
  out[i] = { row[2], row[3], row[4], f[1], f[2], f[3], f[4] }
end
return out
