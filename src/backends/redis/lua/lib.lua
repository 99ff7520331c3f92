-- The functions the Redis backend's scripts share. The loader (redis-scripts.ts) puts this
-- file in front of every script, so each script is one self-contained text that Redis runs
-- atomically. KEYS[1] is the prefix P; redis-keys.ts documents the key layout.
local P = KEYS[1]
local function jk(id) return P .. 'job:' .. id end
local function num(v) if v == false or v == nil or v == '' then return nil end return tonumber(v) end
local function readyScore(priority, runAt) return (1000 - priority) * 4398046511104 + runAt end
local function hasValue(list, value) for _, v in ipairs(list) do if v == value then return true end end return false end
-- Running jobs have no state set: the running set (by lease expiry) lists them already.
local function setState(id, queue, from, to)
  if from then
    if from ~= 'running' then redis.call('ZREM', P .. 'state:' .. from, id) end
    redis.call('HINCRBY', P .. 'count:' .. queue, from, -1)
  end
  if to ~= 'running' then redis.call('ZADD', P .. 'state:' .. to, 0, id) end
  redis.call('HINCRBY', P .. 'count:' .. queue, to, 1)
  redis.call('HSET', jk(id), 'state', to)
end
local function makeReady(id, queue, priority, runAt)
  redis.call('ZADD', P .. 'ready:' .. queue, readyScore(priority, runAt), id)
end
-- Frees job id's key (name, key; key may be nil), if the key still names this job.
local function releaseKeyOf(id, name, key)
  if key then
    local k = name .. '\0' .. key
    if redis.call('HGET', P .. 'keys', k) == id then redis.call('HDEL', P .. 'keys', k) end
  end
end
local function releaseKey(id)
  local f = redis.call('HMGET', jk(id), 'name', 'key')
  releaseKeyOf(id, f[1], f[2])
end
local function finish(id, queue, from, to, now, expiresAt)
  setState(id, queue, from, to)
  redis.call('ZREM', P .. 'running', id)
  redis.call('HDEL', jk(id), 'leaseToken', 'leaseWorker', 'leaseExpiresAt')
  redis.call('HSET', jk(id), 'finishedAt', now, 'cancelRequested', '0')
  if expiresAt then
    redis.call('HSET', jk(id), 'expiresAt', expiresAt)
    redis.call('ZADD', P .. 'expiry', expiresAt, id)
  else
    redis.call('HDEL', jk(id), 'expiresAt')
  end
  redis.call('ZADD', P .. 'finished', now, id)
  redis.call('HSET', P .. 'lastproc', queue, now)
  releaseKey(id)
end
-- Appends an attempt that ended without completing its job to the job's history (the list
-- P attempts:<id>), keeping the newest 50 (recordLimits.maxAttemptHistory) and counting the
-- dropped in the hash's attemptsDropped. The entry is written as JSON text here: `errorJson` is
-- the error as the worker stored it, and numbers keep every digit (Lua's tostring would not).
local function recordEndedAttempt(id, attempt, worker, startedAt, endedAt, outcome, errorJson, retryAt)
  local function int(v) return v and string.format('%.0f', tonumber(v)) or 'null' end
  local entry = '{"attempt":' .. int(attempt) .. ',"workerId":' .. (worker and cjson.encode(worker) or 'null')
    .. ',"startedAt":' .. int(startedAt) .. ',"endedAt":' .. int(endedAt) .. ',"outcome":"' .. outcome
    .. '","error":' .. (errorJson or 'null') .. ',"retryAt":' .. int(retryAt) .. '}'
  local key = P .. 'attempts:' .. id
  if redis.call('RPUSH', key, entry) > 50 then
    redis.call('LPOP', key)
    redis.call('HINCRBY', jk(id), 'attemptsDropped', 1)
  end
end
-- Flows (capability `flows`, redis-flows.ts). A flow job's hash has flowId; a parent has
-- children (its dependencies), pendingChildren (those not yet resolved) and runIf when it is
-- 'any-child-failed'; a child has hasParents '1' while a job waits for it. Jobs outside flows
-- have none of these fields: the writes that finish a job test hasParents and, for them, do
-- nothing more. A parent waits as `scheduled` with runAt = waitingRunAt, in no due set.
--   P children:<id>   hash: child id -> "<index> <policy> <outcome> <child name>", outcome '-'
--                     until this dependency is resolved (then the state it resolved with)
--   P parents:<id>    set: the jobs that depend on this one
--   P flow:<flowId>   set: the ids of the flow's jobs
local waitingRunAt = '8640000000000000'
-- count:<queue> also keeps waitingForChildren: how many of its scheduled jobs are parents
-- waiting (the stats read it, with no walk over jobs). enqueueJobs counts a parent in; every
-- write that takes one out of waiting (released, failed, cancelled, deleted) calls this.
local function leftWaiting(queue)
  redis.call('HINCRBY', P .. 'count:' .. queue, 'waitingForChildren', -1)
end
local function isFinished(state) return state == 'completed' or state == 'failed' or state == 'cancelled' end
local function parseDependency(value)
  return string.match(value, '^(%d+) (%S+) (%S+) (.*)$')
end
-- The errors of flow-store.ts (childFailedError, flowConditionUnmetError), field for field.
local function childFailedJson(childId, childName, childState, now)
  local message = 'Child job ' .. childId .. ' (' .. childName .. ') ' .. (childState == 'failed' and 'failed' or 'was cancelled') .. '.'
  return '{"name":"ChildFailedError","code":"CHILD_FAILED","message":' .. cjson.encode(message) .. ',"at":' .. string.format('%.0f', now) .. ',"attempt":0}'
end
local function conditionUnmetJson(now)
  return '{"name":"FlowConditionUnmetError","code":"FLOW_CONDITION_UNMET","message":"Every child completed, and this job runs only when one did not.","at":'
    .. string.format('%.0f', now) .. ',"attempt":0}'
end
local function anyChildNotCompleted(parentId)
  for _, value in ipairs(redis.call('HVALS', P .. 'children:' .. parentId)) do
    local _, _, outcome = parseDependency(value)
    if outcome ~= '-' and outcome ~= 'completed' then return true end
  end
  return false
end

-- Jobs that finished (each { id, name, state }; deleted before finishing = 'cancelled'):
-- resolves every dependency on them, once, by its policy. A waiting parent may be released,
-- or fail or be cancelled, and is then appended to the same work list, so the cascade up a
-- graph of any depth is a loop, never a recursion.
local function resolveParents(work, now)
  local published = {}
  local i = 1
  while i <= #work do
    local child = work[i]
    work[i] = false
    i = i + 1
    local childId, childName, childState = child[1], child[2], child[3]
    for _, parentId in ipairs(redis.call('SMEMBERS', P .. 'parents:' .. childId)) do
      local dependencies = P .. 'children:' .. parentId
      local dependency = redis.call('HGET', dependencies, childId)
      local index, policy, outcome, name
      if dependency then index, policy, outcome, name = parseDependency(dependency) end
      if outcome == '-' then
        redis.call('HSET', dependencies, childId, index .. ' ' .. policy .. ' ' .. childState .. ' ' .. name)
        local pending = redis.call('HINCRBY', jk(parentId), 'pendingChildren', -1)
        local f = redis.call('HMGET', jk(parentId), 'state', 'runAt', 'queue', 'priority', 'keepFailedMs', 'runIf', 'name', 'hasParents')
        -- Only a parent still waiting changes; the others keep their state.
        if f[1] == 'scheduled' and f[2] == waitingRunAt then
          local release, ended, errorJson = false, nil, nil
          if childState == 'completed' or policy == 'ignore' then
            if pending <= 0 then
              if f[6] == 'any-child-failed' and not anyChildNotCompleted(parentId) then
                ended, errorJson = 'cancelled', conditionUnmetJson(now)
              else
                release = true
              end
            end
          elseif policy == 'continue' then
            release = true
          else
            ended = policy == 'fail' and 'failed' or 'cancelled'
            errorJson = childFailedJson(childId, childName, childState, now)
          end
          if release or ended then leftWaiting(f[3]) end
          if release then
            redis.call('HSET', jk(parentId), 'runAt', now)
            setState(parentId, f[3], 'scheduled', 'queued')
            makeReady(parentId, f[3], tonumber(f[4]), now)
            published[f[3]] = true
          elseif ended then
            local keep = num(f[5])
            redis.call('HSET', jk(parentId), 'error', errorJson)
            finish(parentId, f[3], 'scheduled', ended, now, keep and (now + keep) or nil)
            -- Counted in the stats as any failure is (done:<queue>, 10 s buckets: stats-window.ts).
            if ended == 'failed' then
              redis.call('HINCRBY', P .. 'done:' .. f[3], 'f:' .. string.format('%.0f', math.floor(now / 10000) * 10000), 1)
            end
            if f[8] == '1' then work[#work + 1] = { parentId, f[7], ended } end
          end
        end
      end
    end
  end
  for queue in pairs(published) do redis.call('PUBLISH', P .. 'events', 'q:' .. queue) end
end

-- A waiting parent was just cancelled: every descendant not finished is cancelled too, a
-- waiting one at once (appended to `work`, for resolveParents), a running one by a cancel
-- request. The whole graph below is collected first, so no descendant is resolved by policy
-- (failed) before the cancel reaches it.
local function cancelDescendants(rootId, now, work)
  local seen = { [rootId] = true }
  local order = { rootId }
  local i = 1
  while i <= #order do
    for _, childId in ipairs(redis.call('HKEYS', P .. 'children:' .. order[i])) do
      if not seen[childId] then
        seen[childId] = true
        order[#order + 1] = childId
      end
    end
    i = i + 1
  end
  for j = 2, #order do
    local id = order[j]
    local f = redis.call('HMGET', jk(id), 'state', 'queue', 'keepFailedMs', 'name', 'runAt')
    if f[1] == 'running' then
      redis.call('HSET', jk(id), 'cancelRequested', '1')
      redis.call('PUBLISH', P .. 'events', 'c:' .. id)
    elseif f[1] == 'queued' or f[1] == 'scheduled' then
      redis.call('ZREM', P .. 'ready:' .. f[2], id)
      redis.call('ZREM', P .. 'scheduled', id)
      if f[1] == 'scheduled' and f[5] == waitingRunAt then leftWaiting(f[2]) end
      local keep = num(f[3])
      finish(id, f[2], f[1], 'cancelled', now, keep and (now + keep) or nil)
      work[#work + 1] = { id, f[4], 'cancelled' }
    end
  end
end

-- Whether a parent of job id has not finished yet: then prune keeps id, whose result it will read.
local function awaitedByParent(id)
  for _, parentId in ipairs(redis.call('SMEMBERS', P .. 'parents:' .. id)) do
    local state = redis.call('HGET', jk(parentId), 'state')
    if state and not isFinished(state) then return true end
  end
  return false
end

-- Removes a flow job's place in its flow, before the job itself is removed: one deleted
-- before it finished counts as cancelled for its parents; its own dependencies go (its
-- children stay, and no longer have it as a parent); its parents keep their entry for it
-- (listChildren shows it with no state).
local function forgetFlowJob(id, state, flowId, hasParents, name, now)
  if hasParents == '1' and not isFinished(state) then resolveParents({ { id, name, 'cancelled' } }, now) end
  for _, childId in ipairs(redis.call('HKEYS', P .. 'children:' .. id)) do
    local parents = P .. 'parents:' .. childId
    redis.call('SREM', parents, id)
    if redis.call('SCARD', parents) == 0 and redis.call('HEXISTS', jk(childId), 'hasParents') == 1 then
      redis.call('HSET', jk(childId), 'hasParents', '0')
    end
  end
  redis.call('DEL', P .. 'children:' .. id, P .. 'parents:' .. id)
  redis.call('SREM', P .. 'flow:' .. flowId, id)
end

local function removeJob(id, now)
  local f = redis.call('HMGET', jk(id), 'state', 'queue', 'flowId', 'hasParents', 'name', 'runAt')
  if not f[1] then return false end
  if f[3] then forgetFlowJob(id, f[1], f[3], f[4], f[5], now) end
  if f[1] == 'scheduled' and f[6] == waitingRunAt and f[3] then leftWaiting(f[2]) end
  releaseKey(id)
  redis.call('ZREM', P .. 'state:' .. f[1], id)
  redis.call('HINCRBY', P .. 'count:' .. f[2], f[1], -1)
  redis.call('ZREM', P .. 'ready:' .. f[2], id)
  redis.call('ZREM', P .. 'scheduled', id)
  redis.call('ZREM', P .. 'running', id)
  redis.call('ZREM', P .. 'hooks', id)
  redis.call('ZREM', P .. 'expiry', id)
  redis.call('ZREM', P .. 'finished', id)
  redis.call('DEL', jk(id), P .. 'logs:' .. id, P .. 'prog:' .. id, P .. 'steps:' .. id, P .. 'attempts:' .. id)
  return true
end

-- Delayed and retrying jobs whose time has come become queued.
local function promoteDue(now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'scheduled', '-inf', now, 'LIMIT', 0, 1000)) do
    local f = redis.call('HMGET', jk(id), 'queue', 'priority', 'runAt')
    redis.call('ZREM', P .. 'scheduled', id)
    setState(id, f[1], 'scheduled', 'queued')
    makeReady(id, f[1], tonumber(f[2]), tonumber(f[3]))
  end
end

-- Starts job id under a new lease.
local function startJob(id, now, token, worker, leaseMs)
  local expires = now + leaseMs
  redis.call('HSET', jk(id), 'startedAt', now, 'leaseToken', token, 'leaseWorker', worker, 'leaseExpiresAt', expires)
  redis.call('ZADD', P .. 'running', expires, id)
end

-- Writes that many jobs of one batch share are collected and made once per batch: one
-- variadic ZADD or ZREM per set, one HINCRBY per queue and state. Per job, a claim is
-- about three commands and a completion about eight.
local function newBatch()
  return { zadd = {}, zrem = {}, counts = {} }
end
local function batchZadd(batch, key, score, id)
  local list = batch.zadd[key]
  if not list then list = {}; batch.zadd[key] = list end
  list[#list + 1] = score
  list[#list + 1] = id
end
local function batchZrem(batch, key, id)
  local list = batch.zrem[key]
  if not list then list = {}; batch.zrem[key] = list end
  list[#list + 1] = id
end
local function batchCount(batch, queue, state, delta)
  local counts = batch.counts[queue]
  if not counts then counts = {}; batch.counts[queue] = counts end
  counts[state] = (counts[state] or 0) + delta
end
local function batchMove(batch, id, queue, from, to)
  if from ~= 'running' then batchZrem(batch, P .. 'state:' .. from, id) end
  if to ~= 'running' then batchZadd(batch, P .. 'state:' .. to, 0, id) end
  batchCount(batch, queue, from, -1)
  batchCount(batch, queue, to, 1)
end
local function flushBatch(batch)
  -- unpack is bounded by Lua's C stack; 2,000 values at a time stays far below it.
  for key, list in pairs(batch.zrem) do
    for i = 1, #list, 2000 do redis.call('ZREM', key, unpack(list, i, math.min(i + 1999, #list))) end
  end
  for key, list in pairs(batch.zadd) do
    for i = 1, #list, 2000 do redis.call('ZADD', key, unpack(list, i, math.min(i + 1999, #list))) end
  end
  for queue, counts in pairs(batch.counts) do
    for state, delta in pairs(counts) do
      if delta ~= 0 then redis.call('HINCRBY', P .. 'count:' .. queue, state, delta) end
    end
  end
end

-- Adds n jobs from `packed`: one JSON list of strings, 14 fields a job (id, name, queue,
-- payload, metadata, priority, key, maxAttempts, backoff, timeoutMs, keepCompletedMs,
-- keepFailedMs, runAt, createdAt; '' for none). One argument for the whole batch: the
-- client's driver handles one string instead of fourteen a job, which was most of a bulk
-- enqueue's cost in the client. Checks every id before writing
-- anything, so a bad batch raises before it changes a thing. `flow` (enqueue-flow.lua), by
-- id: fields to add to the job's hash, and whether it waits for children (in no due set).
local function enqueueJobs(packed, n, now, flow)
  local A = cjson.decode(packed)
  local jobs = {}
  local seenIds, seenKeys = {}, {}
  local hashKeys = {}
  for i = 0, n - 1 do
    local b = i * 14
    local job = { id = A[b + 1], name = A[b + 2], queue = A[b + 3], payload = A[b + 4], metadata = A[b + 5],
      priority = A[b + 6], key = A[b + 7], maxAttempts = A[b + 8], backoff = A[b + 9], timeoutMs = A[b + 10],
      keepCompletedMs = A[b + 11], keepFailedMs = A[b + 12], runAt = A[b + 13], createdAt = A[b + 14] }
    if seenIds[job.id] then error('DUPLICATE_ID ' .. job.id) end
    seenIds[job.id] = true
    jobs[#jobs + 1] = job
    hashKeys[#hashKeys + 1] = jk(job.id)
  end
  -- One EXISTS for the whole batch; only when it finds one does it look for which. A batch
  -- whose every job is already there with its id, name and creation time (or was a keyed job
  -- the key turned away, which left no row) is this very call, sent again by the driver after
  -- its reply was lost: ioredis resends what a dropped connection left unanswered. It is
  -- answered as the first run did (those jobs created), and nothing is written twice. Any
  -- other overlap with a stored id is a real clash and refuses the whole batch.
  local replayed = {}
  local anyStored = false
  for i = 1, #hashKeys, 1000 do
    if redis.call('EXISTS', unpack(hashKeys, i, math.min(i + 999, #hashKeys))) > 0 then
      for j = i, math.min(i + 999, #hashKeys) do
        local f = redis.call('HMGET', hashKeys[j], 'name', 'createdAt')
        if f[1] == jobs[j].name and f[2] == jobs[j].createdAt then
          replayed[jobs[j].id] = true
          anyStored = true
        elseif f[1] then
          error('DUPLICATE_ID ' .. jobs[j].id)
        end
      end
    end
  end
  if anyStored then
    for _, job in ipairs(jobs) do
      if not replayed[job.id] and job.key == '' then
        for id in pairs(replayed) do error('DUPLICATE_ID ' .. id) end
      end
    end
  end
  local out = {}
  local published, queues = {}, {}
  local batch = newBatch()
  for _, job in ipairs(jobs) do
    local existing = false
    if replayed[job.id] then
      if job.key ~= '' then seenKeys[job.name .. '\0' .. job.key] = job.id end
    elseif job.key ~= '' then
      local k = job.name .. '\0' .. job.key
      existing = seenKeys[k] or redis.call('HGET', P .. 'keys', k)
      if not existing then seenKeys[k] = job.id end
    end
    if replayed[job.id] then
      out[#out + 1] = { job.id, 1 }
    elseif existing then
      out[#out + 1] = { existing, 0 }
    else
      local runAt = tonumber(job.runAt)
      local state = runAt > now and 'scheduled' or 'queued'
      local fields = { 'id', job.id, 'name', job.name, 'queue', job.queue, 'state', state, 'payload', job.payload, 'metadata', job.metadata,
        'priority', job.priority, 'maxAttempts', job.maxAttempts, 'attempts', '0', 'crashes', '0', 'runAt', job.runAt,
        'createdAt', job.createdAt, 'cancelRequested', '0' }
      for _, f in ipairs({ 'key', 'backoff', 'timeoutMs', 'keepCompletedMs', 'keepFailedMs' }) do
        if job[f] ~= '' then fields[#fields + 1] = f; fields[#fields + 1] = job[f] end
      end
      local inFlow = flow and flow[job.id]
      if inFlow then
        for _, v in ipairs(inFlow.fields) do fields[#fields + 1] = v end
      end
      redis.call('HSET', jk(job.id), unpack(fields))
      if job.key ~= '' then redis.call('HSET', P .. 'keys', job.name .. '\0' .. job.key, job.id) end
      queues[job.queue] = true
      batchZadd(batch, P .. 'state:' .. state, 0, job.id)
      batchCount(batch, job.queue, state, 1)
      if state == 'scheduled' then
        if inFlow and inFlow.waiting then
          batchCount(batch, job.queue, 'waitingForChildren', 1)
        else
          batchZadd(batch, P .. 'scheduled', runAt, job.id)
        end
      else
        batchZadd(batch, P .. 'ready:' .. job.queue, readyScore(tonumber(job.priority), runAt), job.id)
        published[job.queue] = true
      end
      out[#out + 1] = { job.id, 1 }
    end
  end
  flushBatch(batch)
  for queue in pairs(queues) do redis.call('HSETNX', P .. 'queues', queue, '0') end
  for queue in pairs(published) do redis.call('PUBLISH', P .. 'events', 'q:' .. queue) end
  return out
end

-- Claiming is shared by the `claim` and `settle` scripts, so a worker's settle-then-claim
-- is one script call: one round trip, one atomic step.
--
-- Claim arguments, from ARGV[base + 1]: limit, worker, leaseMs, tokenPrefix, nQueues,
-- queues…, nNames, names…. A lease token is the prefix (random per call) and a counter.
-- Returns { jobs, nextRunAt or '' }, each job a JSON array [recovered (1/0), hash as an
-- object, progress list, log list] (an empty list may come as {}), so the caller needs
-- no second round trip to read them.

-- A job's hash as a table of fields, with its progress and log lists. A job never
-- attempted has neither (only an attempt writes them), which saves two reads per fresh claim.
local function readJob(id)
  local flat = redis.call('HGETALL', jk(id))
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  if (fields.attempts or '0') == '0' and (fields.crashes or '0') == '0' then return { fields, {}, {}, {} } end
  return { fields, redis.call('LRANGE', P .. 'prog:' .. id, 0, -1), redis.call('LRANGE', P .. 'logs:' .. id, 0, -1),
    redis.call('LRANGE', P .. 'attempts:' .. id, 0, -1) }
end

local function claimJobs(now, base)
  local limit = tonumber(ARGV[base + 1])
  local worker = ARGV[base + 2]
  local leaseMs = tonumber(ARGV[base + 3])
  local tokenPrefix = ARGV[base + 4]
  local nq = tonumber(ARGV[base + 5])
  local queues = {}
  for i = 1, nq do
    local q = ARGV[base + 5 + i]
    if redis.call('HGET', P .. 'queues', q) ~= '1' then queues[#queues + 1] = q end
  end
  local nn = tonumber(ARGV[base + 6 + nq])
  local names = {}
  for i = 1, nn do names[#names + 1] = ARGV[base + 6 + nq + i] end
  local jobs = {}
  local used = 0
  local expires = now + leaseMs
  -- One JSON string per job: the worker parses it natively instead of decoding dozens
  -- of reply strings one by one (which cost more of its CPU than the claim itself).
  local function encodeClaim(id, recovered)
    local job = readJob(id)
    return cjson.encode({ recovered and 1 or 0, job[1], job[2], job[3], job[4] })
  end
  -- Leases job id to this worker; with `start`, for a new attempt (a hook taken over stays failed).
  -- The token is the call's prefix, a counter, and 'r' for a job taken over from a dead lease.
  local function lease(id, recovered, start)
    used = used + 1
    local token = tokenPrefix .. used .. (recovered and 'r' or '')
    if start then
      redis.call('HSET', jk(id), 'state', 'running', 'startedAt', now, 'leaseToken', token, 'leaseWorker', worker, 'leaseExpiresAt', expires)
    else
      redis.call('HSET', jk(id), 'leaseToken', token, 'leaseWorker', worker, 'leaseExpiresAt', expires)
    end
    jobs[used] = encodeClaim(id, recovered)
  end
  -- This call sent again after its reply was lost (ioredis resends what a dropped connection
  -- left unanswered; the arguments, `now` among them, are the same): the jobs it leased are in
  -- the running set at exactly this expiry, under tokens with this call's random prefix. They
  -- are answered again instead of claiming more and leaving them to wait out their lease.
  -- (A failed job taken over for its hook is in the hooks set instead.)
  local replayed = {}
  for _, set in ipairs({ 'running', 'hooks' }) do
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. set, expires, expires)) do
      local token = redis.call('HGET', jk(id), 'leaseToken')
      if token and string.sub(token, 1, #tokenPrefix) == tokenPrefix then
        replayed[#replayed + 1] = { tonumber(string.match(token, '^(%d+)', #tokenPrefix + 1)), id, string.sub(token, -1) == 'r' }
      end
    end
  end
  if #replayed > 0 then
    table.sort(replayed, function(a, b) return a[1] < b[1] end)
    for i, entry in ipairs(replayed) do jobs[i] = encodeClaim(entry[2], entry[3]) end
    local first = redis.call('ZRANGE', P .. 'scheduled', 0, 0, 'WITHSCORES')
    return { jobs, first[2] or '' }
  end
  if #queues == 0 then return { jobs, '' } end

  promoteDue(now)
  local batch = newBatch()

  -- Running jobs whose lease expired: their worker crashed or hung.
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'running', '-inf', now, 'LIMIT', 0, 1000)) do
    if used >= limit then break end
    local f = redis.call('HMGET', jk(id), 'queue', 'name', 'cancelRequested', 'keepFailedMs', 'attempts', 'leaseWorker', 'startedAt', 'leaseExpiresAt', 'hasParents')
    if hasValue(queues, f[1]) and hasValue(names, f[2]) then
      local attempt = tonumber(f[5]) + 1
      if f[3] == '1' then
        local keep = num(f[4])
        recordEndedAttempt(id, attempt, f[6], f[7], now, 'cancelled', nil, nil)
        finish(id, f[1], 'running', 'cancelled', now, keep and (now + keep) or nil)
        if f[9] == '1' then resolveParents({ { id, f[2], 'cancelled' } }, now) end
      else
        recordEndedAttempt(id, attempt, f[6], f[7], f[8], 'crashed', nil, nil)
        redis.call('HINCRBY', jk(id), 'crashes', 1)
        batchZadd(batch, P .. 'running', expires, id)
        lease(id, true, true)
      end
    end
  end

  -- Failed jobs whose failed hook is pending under a lapsed lease (their worker died):
  -- taken over for the hook alone; they stay failed.
  if used < limit then
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'hooks', '-inf', now, 'LIMIT', 0, 1000)) do
      if used >= limit then break end
      local f = redis.call('HMGET', jk(id), 'queue', 'name')
      if hasValue(queues, f[1]) and hasValue(names, f[2]) then
        redis.call('HINCRBY', jk(id), 'crashes', 1)
        batchZadd(batch, P .. 'hooks', expires, id)
        lease(id, true, false)
      end
    end
  end

  -- Queued jobs: the best of each queue's head, merged by score, then id.
  if used < limit then
    local want = limit - used
    local candidates = {}
    for _, q in ipairs(queues) do
      local found, offset = 0, 0
      while found < want do
        local page = redis.call('ZRANGE', P .. 'ready:' .. q, offset, offset + want - found - 1, 'WITHSCORES')
        if #page == 0 then break end
        for i = 1, #page, 2 do
          local id = page[i]
          if found < want and hasValue(names, redis.call('HGET', jk(id), 'name')) then
            candidates[#candidates + 1] = { id = id, score = tonumber(page[i + 1]), queue = q }
            found = found + 1
          end
        end
        offset = offset + #page / 2
        if offset >= 2000 then break end
      end
    end
    if #queues > 1 then
      table.sort(candidates, function(a, b) if a.score ~= b.score then return a.score < b.score end return a.id < b.id end)
    end
    for i = 1, math.min(want, #candidates) do
      local c = candidates[i]
      batchZrem(batch, P .. 'ready:' .. c.queue, c.id)
      batchMove(batch, c.id, c.queue, 'queued', 'running')
      batchZadd(batch, P .. 'running', expires, c.id)
      lease(c.id, false, true)
    end
  end
  flushBatch(batch)
  local nextRunAt = ''
  if used < limit then
    local first = redis.call('ZRANGE', P .. 'scheduled', 0, 0, 'WITHSCORES')
    nextRunAt = first[2] or ''
  end
  return { jobs, nextRunAt }
end

