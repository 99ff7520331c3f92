-- ARGV: now, bucket, n, the settlements (see `settleJobs`) as one JSON list of strings, then
-- '1' and the claim arguments to claim in the same step, or '0'. Returns
-- { applied, { jobs, nextRunAt } or 0 }. Settling and claiming are one script, so a worker's
-- settle-then-claim is one round trip and one atomic step.

-- Settlements, 11 strings each in the list S: kind, id, token, result, error, runAt,
-- countAttempt, expiresAt, hookPending, the number of follow-up jobs and those jobs packed
-- as `enqueueJobs` takes them. Returns 1/0 per settlement (0: fenced off). An outcome
-- already stored under the same lease (written before, its reply lost) is 1 again and
-- changes nothing, its follow-ups included.
local function settleJobs(now, bucket, S, n)
  local out = {}
  local batch = newBatch()
  local finishedQueues, done, published = {}, {}, {}
  local ended = { complete = 'completed', fail = 'failed', cancel = 'cancelled' }
  -- Flow children that finished here: their parents are resolved once the batch is written.
  local flowWork = nil
  for i = 0, n - 1 do
    local b = i * 11
    local kind, id, token = S[b + 1], S[b + 2], S[b + 3]
    local f = redis.call('HMGET', jk(id), 'state', 'leaseToken', 'queue', 'priority', 'attempts', 'name', 'key', 'failedHook', 'settledToken',
      'leaseExpiresAt', 'leaseWorker', 'startedAt', 'hasParents')
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
      -- The follow-ups first: `enqueueJobs` raises on a taken id before it writes, and then
      -- this outcome is not written either.
      if S[b + 10] ~= '0' then enqueueJobs(S[b + 11], tonumber(S[b + 10]), now) end
      local queue = f[3]
      -- An attempt that ends without completing is kept in the job's history; a release or a
      -- sleep (a retry that counts no attempt) is not such an end, nor is a completion.
      local errorJson = S[b + 5] ~= '' and S[b + 5] or nil
      if kind == 'fail' or kind == 'cancel' or (kind == 'retry' and S[b + 7] == '1') then
        local outcome = 'cancelled'
        if kind ~= 'cancel' then outcome = (errorJson and cjson.decode(errorJson).code == 'TIMEOUT') and 'timed-out' or 'failed' end
        recordEndedAttempt(id, tonumber(f[5]) + 1, f[11], f[12], now, outcome, errorJson, kind == 'retry' and S[b + 6] or nil)
      end
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
        -- A job outside flows pays this one test.
        if f[13] == '1' then
          flowWork = flowWork or {}
          flowWork[#flowWork + 1] = { id, f[6], to }
        end
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
  if flowWork then resolveParents(flowWork, now) end
  for queue in pairs(finishedQueues) do redis.call('HSET', P .. 'lastproc', queue, now) end
  for queue, fields in pairs(done) do
    for field, count in pairs(fields) do redis.call('HINCRBY', P .. 'done:' .. queue, field, count) end
  end
  for queue in pairs(published) do redis.call('PUBLISH', P .. 'events', 'q:' .. queue) end
  return out
end

local now = tonumber(ARGV[1])
local applied = settleJobs(now, ARGV[2], cjson.decode(ARGV[4]), tonumber(ARGV[3]))
if ARGV[5] == '1' then return { applied, claimJobs(now, 5) } end
return { applied, 0 }
