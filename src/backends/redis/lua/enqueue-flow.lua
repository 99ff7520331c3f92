-- ARGV: now, n, the jobs' fields packed as `enqueueJobs` takes them, flowId, and the graph as
-- one JSON list, per job: [id, name, runIf, childId, policy, childId, policy, …]. Returns 'ok',
-- or 'taken:<id>' when a job with one of the ids exists (then nothing is written). All or
-- nothing: every id is checked before the first write. A taken id whose job belongs to this
-- very flow means this call ran already and its reply was lost (the driver sends it again
-- after a dropped connection): the whole flow is there, so the answer is 'ok' again.
local now, n, flowId = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]
local graph = cjson.decode(ARGV[5])
local hashKeys = {}
for i, job in ipairs(graph) do hashKeys[i] = jk(job[1]) end
for i = 1, #hashKeys, 1000 do
  if redis.call('EXISTS', unpack(hashKeys, i, math.min(i + 999, #hashKeys))) > 0 then
    for j = i, math.min(i + 999, #hashKeys) do
      if redis.call('EXISTS', hashKeys[j]) == 1 then
        if redis.call('HGET', hashKeys[j], 'flowId') == flowId then return 'ok' end
        return 'taken:' .. graph[j][1]
      end
    end
  end
end

local names, hasParents = {}, {}
for _, job in ipairs(graph) do
  names[job[1]] = job[2]
  for k = 4, #job, 2 do hasParents[job[k]] = true end
end
local flow = {}
for _, job in ipairs(graph) do
  local children = (#job - 3) / 2
  local fields = { 'flowId', flowId }
  if children > 0 then
    fields[#fields + 1] = 'children'; fields[#fields + 1] = children
    fields[#fields + 1] = 'pendingChildren'; fields[#fields + 1] = children
  end
  if job[3] == 'any-child-failed' then fields[#fields + 1] = 'runIf'; fields[#fields + 1] = job[3] end
  if hasParents[job[1]] then fields[#fields + 1] = 'hasParents'; fields[#fields + 1] = '1' end
  flow[job[1]] = { fields = fields, waiting = children > 0 }
end
enqueueJobs(ARGV[3], n, now, flow)

-- The dependencies, each from both ends, and the flow's members.
local members = {}
for _, job in ipairs(graph) do
  local id = job[1]
  members[#members + 1] = id
  if #job > 3 then
    local dependencies = {}
    local index = 0
    for k = 4, #job, 2 do
      local childId = job[k]
      index = index + 1
      dependencies[#dependencies + 1] = childId
      dependencies[#dependencies + 1] = index .. ' ' .. job[k + 1] .. ' - ' .. names[childId]
      redis.call('SADD', P .. 'parents:' .. childId, id)
    end
    for i = 1, #dependencies, 2000 do
      redis.call('HSET', P .. 'children:' .. id, unpack(dependencies, i, math.min(i + 1999, #dependencies)))
    end
  end
end
for i = 1, #members, 2000 do
  redis.call('SADD', P .. 'flow:' .. flowId, unpack(members, i, math.min(i + 1999, #members)))
end
return 'ok'
