/**
 * Every state move of the Redis backend is one of these Lua scripts, so it is atomic in
 * Redis. They are defined once on the connection and called by SHA (ioredis falls back
 * to EVAL after a restart flushed the script cache).
 *
 * Layout (P is the prefix, e.g. `jobsmith:{main}:`; the braces are a Cluster hash tag, so
 * every key of one prefix lives in one slot):
 *   P job:<id>        hash: the job's fields; absent field = null. Besides the record's,
 *                     settledToken: the lease token of the attempt whose outcome it holds
 *   P logs:<id>       list: log lines as JSON, newest 200
 *   P prog:<id>       list: progress reports as JSON, newest 100
 *   P ready:<queue>   zset: queued jobs, score = (1000 − priority) · 2^42 + runAt, ties by id
 *   P scheduled       zset: delayed and retrying jobs by runAt
 *   P running         zset: running jobs by lease expiry
 *   P hooks           zset: failed jobs whose \`failed\` hook is pending, by the expiry of the
 *                     lease of the worker that runs it (they are in state:failed too)
 *   P state:<state>   zset: ids by state, all scores 0, so ids sort (they are time-ordered);
 *                     none for running (the running set lists those); with it, every job is
 *                     in exactly one set, so together they serve listing every job and
 *                     looking ids up by prefix
 *   P expiry          zset: finished jobs by retention deadline
 *   P finished        zset: finished jobs by finish time
 *   P keys            hash: "<name>\0<key>" -> id while that job is active
 *   P queues          hash: queue -> "1" when paused, "0" otherwise (every queue seen)
 *   P lastproc        hash: queue -> last time a job there finished
 *   P count:<queue>   hash: state -> number of jobs
 *   P done:<queue>    hash: "c:<bucket>" / "f:<bucket>" -> finished in that 10 s bucket
 *   P schedule:<id>   hash: a schedule's spec text, enabled, run times, last job
 *   P schedules       zset: schedule ids
 *   P events          pub/sub channel: "q:<queue>" (runnable work), "c:<id>" (cancel asked)
 */
const common = `
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
    local k = name .. '\\0' .. key
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
local function removeJob(id)
  local f = redis.call('HMGET', jk(id), 'state', 'queue')
  if not f[1] then return false end
  releaseKey(id)
  redis.call('ZREM', P .. 'state:' .. f[1], id)
  redis.call('HINCRBY', P .. 'count:' .. f[2], f[1], -1)
  redis.call('ZREM', P .. 'ready:' .. f[2], id)
  redis.call('ZREM', P .. 'scheduled', id)
  redis.call('ZREM', P .. 'running', id)
  redis.call('ZREM', P .. 'hooks', id)
  redis.call('ZREM', P .. 'expiry', id)
  redis.call('ZREM', P .. 'finished', id)
  redis.call('DEL', jk(id), P .. 'logs:' .. id, P .. 'prog:' .. id)
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

-- Adds n jobs from \`packed\`: one JSON list of strings, 14 fields a job (id, name, queue,
-- payload, metadata, priority, key, maxAttempts, backoff, timeoutMs, keepCompletedMs,
-- keepFailedMs, runAt, createdAt; '' for none). One argument for the whole batch: the
-- client's driver handles one string instead of fourteen a job, which was most of a bulk
-- enqueue's cost in the client. Checks every id before writing
-- anything, so a bad batch raises before it changes a thing.
local function enqueueJobs(packed, n, now)
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
  -- One EXISTS for the whole batch; only when it finds one does it look for which.
  for i = 1, #hashKeys, 1000 do
    if redis.call('EXISTS', unpack(hashKeys, i, math.min(i + 999, #hashKeys))) > 0 then
      for j = i, math.min(i + 999, #hashKeys) do
        if redis.call('EXISTS', hashKeys[j]) == 1 then error('DUPLICATE_ID ' .. jobs[j].id) end
      end
    end
  end
  local out = {}
  local published, queues = {}, {}
  local batch = newBatch()
  for _, job in ipairs(jobs) do
    local existing = false
    if job.key ~= '' then
      local k = job.name .. '\\0' .. job.key
      existing = seenKeys[k] or redis.call('HGET', P .. 'keys', k)
      if not existing then seenKeys[k] = job.id end
    end
    if existing then
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
      redis.call('HSET', jk(job.id), unpack(fields))
      if job.key ~= '' then redis.call('HSET', P .. 'keys', job.name .. '\\0' .. job.key, job.id) end
      queues[job.queue] = true
      batchZadd(batch, P .. 'state:' .. state, 0, job.id)
      batchCount(batch, job.queue, state, 1)
      if state == 'scheduled' then
        batchZadd(batch, P .. 'scheduled', runAt, job.id)
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
`;

/** ARGV: now, count, the jobs' fields (see \`enqueueJobs\`). Returns per job {id, created}. All or nothing: checks first, then writes. */
const enqueue = `${common}
return enqueueJobs(ARGV[3], tonumber(ARGV[2]), tonumber(ARGV[1]))
`;

/** ARGV: now. */
const promote = `${common}
promoteDue(tonumber(ARGV[1]))
return 1
`;

/** `job.now()`: adds one job already running. ARGV: now, token, worker, leaseMs, the job's fields (see `enqueueJobs`). Returns {id, created}. */
const enqueueRunning = `${common}
local now = tonumber(ARGV[1])
local result = enqueueJobs(ARGV[5], 1, now)[1]
if result[2] == 1 then
  local f = redis.call('HMGET', jk(result[1]), 'queue', 'state')
  redis.call('ZREM', P .. 'ready:' .. f[1], result[1])
  redis.call('ZREM', P .. 'scheduled', result[1])
  setState(result[1], f[1], f[2], 'running')
  startJob(result[1], now, ARGV[2], ARGV[3], tonumber(ARGV[4]))
end
return result
`;

/**
 * Claiming and settling are functions shared by the `claim` and `settle` scripts, so a
 * worker's settle-then-claim is one script call: one round trip, one atomic step.
 *
 * Claim arguments, from ARGV[base + 1]: limit, worker, leaseMs, tokenPrefix, nQueues,
 * queues…, nNames, names…. A lease token is the prefix (random per call) and a counter.
 * Returns { jobs, nextRunAt or '' }, each job a JSON array [recovered (1/0), hash as an
 * object, progress list, log list] (an empty list may come as {}), so the caller needs
 * no second round trip to read them.
 */
const claimFunctions = `
-- A job's hash as a table of fields, with its progress and log lists. A job never
-- attempted has neither (only an attempt writes them), which saves two reads per fresh claim.
local function readJob(id)
  local flat = redis.call('HGETALL', jk(id))
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  if (fields.attempts or '0') == '0' and (fields.crashes or '0') == '0' then return { fields, {}, {} } end
  return { fields, redis.call('LRANGE', P .. 'prog:' .. id, 0, -1), redis.call('LRANGE', P .. 'logs:' .. id, 0, -1) }
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
  -- Leases job id to this worker; with \`start\`, for a new attempt (a hook taken over stays failed).
  local function lease(id, recovered, start)
    used = used + 1
    if start then
      redis.call('HSET', jk(id), 'state', 'running', 'startedAt', now, 'leaseToken', tokenPrefix .. used, 'leaseWorker', worker, 'leaseExpiresAt', expires)
    else
      redis.call('HSET', jk(id), 'leaseToken', tokenPrefix .. used, 'leaseWorker', worker, 'leaseExpiresAt', expires)
    end
    local job = readJob(id)
    -- One JSON string per job: the worker parses it natively instead of decoding dozens
    -- of reply strings one by one (which cost more of its CPU than the claim itself).
    jobs[used] = cjson.encode({ recovered and 1 or 0, job[1], job[2], job[3] })
  end
  if #queues == 0 then return { jobs, '' } end

  promoteDue(now)
  local batch = newBatch()

  -- Running jobs whose lease expired: their worker crashed or hung.
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'running', '-inf', now, 'LIMIT', 0, 1000)) do
    if used >= limit then break end
    local f = redis.call('HMGET', jk(id), 'queue', 'name', 'cancelRequested', 'keepFailedMs')
    if hasValue(queues, f[1]) and hasValue(names, f[2]) then
      if f[3] == '1' then
        local keep = num(f[4])
        finish(id, f[1], 'running', 'cancelled', now, keep and (now + keep) or nil)
      else
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

-- Settlements, 9 strings each in the list S: kind, id, token, result, error, runAt,
-- countAttempt, expiresAt, hookPending. Returns 1/0 per settlement (0: fenced off). An
-- outcome already stored under the same lease (written before, its reply lost) is 1 again
-- and changes nothing.
local function settleJobs(now, bucket, S, n)
  local out = {}
  local batch = newBatch()
  local finishedQueues, done, published = {}, {}, {}
  local ended = { complete = 'completed', fail = 'failed', cancel = 'cancelled' }
  for i = 0, n - 1 do
    local b = i * 9
    local kind, id, token = S[b + 1], S[b + 2], S[b + 3]
    local f = redis.call('HMGET', jk(id), 'state', 'leaseToken', 'queue', 'priority', 'attempts', 'name', 'key', 'failedHook', 'settledToken',
      'leaseExpiresAt')
    if kind == 'hook-done' then
      if f[1] == 'failed' and f[8] == 'pending' and f[2] == token then
        redis.call('HSET', jk(id), 'failedHook', 'done', 'settledToken', token)
        redis.call('HDEL', jk(id), 'leaseToken', 'leaseWorker', 'leaseExpiresAt')
        batchZrem(batch, P .. 'hooks', id)
        out[#out + 1] = 1
      else
        -- While the hook is pending, the failure's token is the stored one: a dead worker's
        -- lease must not end another worker's hook.
        out[#out + 1] = (f[8] == 'done' and f[9] == token) and 1 or 0
      end
    elseif f[1] ~= 'running' or f[2] ~= token then
      out[#out + 1] = f[9] == token and 1 or 0
    else
      local queue = f[3]
      local attempts = tonumber(f[5]) + ((S[b + 7] == '1' or kind == 'complete') and 1 or 0)
      local fields = { 'attempts', attempts, 'settledToken', token }
      if S[b + 5] ~= '' then fields[#fields + 1] = 'error'; fields[#fields + 1] = S[b + 5] end
      -- With its hook pending, a failed job keeps the lease: the worker that runs the hook holds it.
      local hookPending = kind == 'fail' and S[b + 9] == '1'
      local dropped = hookPending and {} or { 'leaseToken', 'leaseWorker', 'leaseExpiresAt' }
      batchZrem(batch, P .. 'running', id)
      if hookPending then
        fields[#fields + 1] = 'failedHook'; fields[#fields + 1] = 'pending'
        batchZadd(batch, P .. 'hooks', tonumber(f[10]), id)
      end
      local to = ended[kind]
      if to then
        local expiresAt = num(S[b + 8])
        fields[#fields + 1] = 'state'; fields[#fields + 1] = to
        fields[#fields + 1] = 'finishedAt'; fields[#fields + 1] = now
        fields[#fields + 1] = 'cancelRequested'; fields[#fields + 1] = '0'
        if kind == 'complete' then fields[#fields + 1] = 'result'; fields[#fields + 1] = S[b + 4] end
        if expiresAt then
          fields[#fields + 1] = 'expiresAt'; fields[#fields + 1] = expiresAt
          batchZadd(batch, P .. 'expiry', expiresAt, id)
        else
          dropped[#dropped + 1] = 'expiresAt'
        end
        batchMove(batch, id, queue, 'running', to)
        batchZadd(batch, P .. 'finished', now, id)
        finishedQueues[queue] = true
        if kind ~= 'cancel' then
          local field = (kind == 'complete' and 'c:' or 'f:') .. bucket
          done[queue] = done[queue] or {}
          done[queue][field] = (done[queue][field] or 0) + 1
        end
        releaseKeyOf(id, f[6], f[7])
      else
        local runAt = tonumber(S[b + 6])
        fields[#fields + 1] = 'runAt'; fields[#fields + 1] = runAt
        if runAt > now then
          fields[#fields + 1] = 'state'; fields[#fields + 1] = 'scheduled'
          batchMove(batch, id, queue, 'running', 'scheduled')
          batchZadd(batch, P .. 'scheduled', runAt, id)
        else
          fields[#fields + 1] = 'state'; fields[#fields + 1] = 'queued'
          batchMove(batch, id, queue, 'running', 'queued')
          batchZadd(batch, P .. 'ready:' .. queue, readyScore(tonumber(f[4]), runAt), id)
          published[queue] = true
        end
      end
      redis.call('HSET', jk(id), unpack(fields))
      if #dropped > 0 then redis.call('HDEL', jk(id), unpack(dropped)) end
      out[#out + 1] = 1
    end
  end
  flushBatch(batch)
  for queue in pairs(finishedQueues) do redis.call('HSET', P .. 'lastproc', queue, now) end
  for queue, fields in pairs(done) do
    for field, count in pairs(fields) do redis.call('HINCRBY', P .. 'done:' .. queue, field, count) end
  end
  for queue in pairs(published) do redis.call('PUBLISH', P .. 'events', 'q:' .. queue) end
  return out
end
`;

/** ARGV: now, then the claim arguments (see `claimJobs`). Returns { jobs, nextRunAt }. */
const claim = `${common}${claimFunctions}
return claimJobs(tonumber(ARGV[1]), 1)
`;

/**
 * ARGV: now, bucket, n, the settlements (see `settleJobs`) as one JSON list of strings, then
 * '1' and the claim arguments to claim in the same step, or '0'. Returns
 * { applied, { jobs, nextRunAt } or 0 }.
 */
const settle = `${common}${claimFunctions}
local now = tonumber(ARGV[1])
local applied = settleJobs(now, ARGV[2], cjson.decode(ARGV[4]), tonumber(ARGV[3]))
if ARGV[5] == '1' then return { applied, claimJobs(now, 5) } end
return { applied, 0 }
`;

/** ARGV: expiresAt, n, then id, token pairs. Returns per lease: 0 lost, 1 held, 2 held with a cancel asked for. */
const renew = `${common}
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
`;

/** ARGV: id, token, list ('logs' or 'prog'), entry JSON, keep, progress JSON or ''. Returns 1, or 0 when the lease is lost. */
const attemptWrite = `${common}
local id, token = ARGV[1], ARGV[2]
local f = redis.call('HMGET', jk(id), 'state', 'leaseToken')
if f[1] ~= 'running' or f[2] ~= token then return 0 end
local list = P .. ARGV[3] .. ':' .. id
redis.call('RPUSH', list, ARGV[4])
redis.call('LTRIM', list, -tonumber(ARGV[5]), -1)
if ARGV[6] ~= '' then redis.call('HSET', jk(id), 'progress', ARGV[6]) end
return 1
`;

/** ARGV: id, now. Returns 'none', 'finished', 'requested' or 'cancelled'. */
const cancel = `${common}
local id, now = ARGV[1], tonumber(ARGV[2])
local f = redis.call('HMGET', jk(id), 'state', 'queue', 'keepFailedMs')
if not f[1] then return 'none' end
if f[1] == 'completed' or f[1] == 'failed' or f[1] == 'cancelled' then return 'finished' end
if f[1] == 'running' then
  redis.call('HSET', jk(id), 'cancelRequested', '1')
  redis.call('PUBLISH', P .. 'events', 'c:' .. id)
  return 'requested'
end
redis.call('ZREM', P .. 'ready:' .. f[2], id)
redis.call('ZREM', P .. 'scheduled', id)
local keep = num(f[3])
finish(id, f[2], f[1], 'cancelled', now, keep and (now + keep) or nil)
return 'cancelled'
`;

/** ARGV: id, now. Returns 'none', 'ok', 'key:<key>', 'hook-pending' or the state that forbids it. */
const retry = `${common}
local id, now = ARGV[1], tonumber(ARGV[2])
local f = redis.call('HMGET', jk(id), 'state', 'queue', 'priority', 'name', 'key', 'failedHook')
if not f[1] then return 'none' end
if f[1] ~= 'failed' and f[1] ~= 'cancelled' then return f[1] end
if f[6] == 'pending' then return 'hook-pending' end
if f[5] then
  local k = f[4] .. '\\0' .. f[5]
  if redis.call('HEXISTS', P .. 'keys', k) == 1 then return 'key:' .. f[5] end
  redis.call('HSET', P .. 'keys', k, id)
end
redis.call('HSET', jk(id), 'attempts', 0, 'crashes', 0, 'runAt', now, 'cancelRequested', '0')
redis.call('HDEL', jk(id), 'finishedAt', 'expiresAt', 'failedHook')
redis.call('ZREM', P .. 'expiry', id)
redis.call('ZREM', P .. 'finished', id)
setState(id, f[2], f[1], 'queued')
makeReady(id, f[2], tonumber(f[3]), now)
redis.call('PUBLISH', P .. 'events', 'q:' .. f[2])
return 'ok'
`;

/** ARGV: id. Returns 'none', 'running', 'hook-pending' or 'deleted'. */
const remove = `${common}
local f = redis.call('HMGET', jk(ARGV[1]), 'state', 'failedHook')
if not f[1] then return 'none' end
if f[1] == 'running' then return 'running' end
if f[2] == 'pending' then return 'hook-pending' end
removeJob(ARGV[1])
return 'deleted'
`;

/**
 * ARGV: now, finishedBy or '', expired '1'/'0', nStates, states…, statsCutoffBucket. Returns how
 * many jobs were removed. A job whose failed hook is pending stays until the hook has run.
 */
const prune = `${common}
local now = tonumber(ARGV[1])
local removed = 0
local states = {}
for i = 1, tonumber(ARGV[4]) do states[ARGV[4 + i]] = true end
if ARGV[2] ~= '' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'finished', '-inf', ARGV[2], 'LIMIT', 0, 10000)) do
    local f = redis.call('HMGET', jk(id), 'state', 'failedHook')
    if states[f[1]] and f[2] ~= 'pending' and removeJob(id) then removed = removed + 1 end
  end
end
if ARGV[3] == '1' then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'expiry', '-inf', now, 'LIMIT', 0, 10000)) do
    if redis.call('HGET', jk(id), 'failedHook') ~= 'pending' and removeJob(id) then removed = removed + 1 end
  end
end
local cutoff = tonumber(ARGV[5 + tonumber(ARGV[4])])
for _, queue in ipairs(redis.call('HKEYS', P .. 'queues')) do
  local key = P .. 'done:' .. queue
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if tonumber(string.sub(field, 3)) <= cutoff then redis.call('HDEL', key, field) end
  end
end
return removed
`;

/** ARGV: queue, '1' to pause or '0' to resume. */
const pause = `${common}
redis.call('HSET', P .. 'queues', ARGV[1], ARGV[2])
if ARGV[2] == '0' then redis.call('PUBLISH', P .. 'events', 'q:' .. ARGV[1]) end
return 1
`;

/**
 * The compare-and-set that fires a tick exactly once, and the tick's jobs, in one script.
 * ARGV: id, expectedNextRunAt, nextRunAt or '', firedAt or '', overlap, now, count, the jobs' fields (see `enqueueJobs`).
 * Returns {'lost'}, {'skipped'} or {'fired', id…}.
 */
const fireSchedule = `${common}
local sk = P .. 'schedule:' .. ARGV[1]
local f = redis.call('HMGET', sk, 'enabled', 'nextRunAt', 'lastJobId')
if f[1] ~= '1' or f[2] ~= ARGV[2] then return { 'lost' } end
local now = tonumber(ARGV[6])
if ARGV[5] == 'skip' and f[3] then
  local state = redis.call('HGET', jk(f[3]), 'state')
  if state == 'scheduled' or state == 'queued' or state == 'running' then
    if ARGV[3] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[3]) else redis.call('HDEL', sk, 'nextRunAt') end
    redis.call('HSET', sk, 'updatedAt', now)
    return { 'skipped' }
  end
end
local results = enqueueJobs(ARGV[8], tonumber(ARGV[7]), now)
if ARGV[3] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[3]) else redis.call('HDEL', sk, 'nextRunAt') end
if ARGV[4] ~= '' then redis.call('HSET', sk, 'lastRunAt', ARGV[4]) end
if #results > 0 then redis.call('HSET', sk, 'lastJobId', results[#results][1]) end
redis.call('HSET', sk, 'updatedAt', now)
local out = { 'fired' }
for _, r in ipairs(results) do out[#out + 1] = r[1] end
return out
`;

/**
 * Idempotent upsert. ARGV: id, spec text, enabled ('1', '0' or '' to keep), nextRunAt or '', now.
 * Unchanged spec: keeps the run times. Returns the schedule's fields as a flat list.
 */
const upsertSchedule = `${common}
local sk = P .. 'schedule:' .. ARGV[1]
local spec = redis.call('HGET', sk, 'spec')
local now = ARGV[5]
if spec == ARGV[2] then
  local enabled = redis.call('HGET', sk, 'enabled')
  if ARGV[3] ~= '' and ARGV[3] ~= enabled then
    redis.call('HSET', sk, 'enabled', ARGV[3], 'updatedAt', now)
    if ARGV[3] == '1' then
      if ARGV[4] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[4]) else redis.call('HDEL', sk, 'nextRunAt') end
    end
  end
else
  local enabled = ARGV[3]
  if enabled == '' then enabled = redis.call('HGET', sk, 'enabled') or '1' end
  if not spec then redis.call('HSET', sk, 'createdAt', now) end
  redis.call('HSET', sk, 'id', ARGV[1], 'spec', ARGV[2], 'enabled', enabled, 'updatedAt', now)
  if ARGV[4] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[4]) else redis.call('HDEL', sk, 'nextRunAt') end
  redis.call('ZADD', P .. 'schedules', 0, ARGV[1])
end
return redis.call('HGETALL', sk)
`;

/** ARGV: id, '1' or '0', nextRunAt or '', now. Returns the fields, or an empty list when there is no such schedule. */
const setScheduleEnabled = `${common}
local sk = P .. 'schedule:' .. ARGV[1]
local enabled = redis.call('HGET', sk, 'enabled')
if not enabled then return {} end
if enabled ~= ARGV[2] then
  redis.call('HSET', sk, 'enabled', ARGV[2], 'updatedAt', ARGV[4])
  if ARGV[2] == '1' then
    if ARGV[3] ~= '' then redis.call('HSET', sk, 'nextRunAt', ARGV[3]) else redis.call('HDEL', sk, 'nextRunAt') end
  end
end
return redis.call('HGETALL', sk)
`;

/** ARGV: id. Returns 1 when it existed. */
const removeSchedule = `${common}
redis.call('ZREM', P .. 'schedules', ARGV[1])
return redis.call('DEL', P .. 'schedule:' .. ARGV[1])
`;

export const redisScripts = {
  enqueue,
  enqueueRunning,
  promote,
  claim,
  settle,
  renew,
  attemptWrite,
  cancel,
  retry,
  remove,
  prune,
  pause,
  fireSchedule,
  upsertSchedule,
  setScheduleEnabled,
  removeSchedule,
} as const;
export type RedisScriptName = keyof typeof redisScripts;
