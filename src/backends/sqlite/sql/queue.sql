-- The JobQueue role's statements (sqlite-queue.ts), prepared once per connection
-- (sqlite-connection.ts). The claim's statements are also checked by tests for their query
-- plans (EXPLAIN QUERY PLAN), against exactly this text.
--
-- A limit is written `LIMIT CAST(? AS INTEGER)`, never `LIMIT ?`: SQLite's planner reads a bare
-- bound LIMIT, so binding it again (every call) made SQLite prepare the statement anew on every
-- run, 5 to 15 µs each (bench/where-the-time-goes.md, issue #21).

-- name: insert
INSERT OR IGNORE INTO jobsmith_jobs
  (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insertShared
-- Keyless jobs that share every column but their id, payload and run_at, in one statement:
-- those three come as a JSON array of [id, payload, run_at] triples, the rest are bound once.
-- Reading 1,000 rows from one bound text costs less than binding 15 values for each of them
-- (bench/where-the-time-goes.md, issue #21).
INSERT OR IGNORE INTO jobsmith_jobs
  (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at)
  SELECT value ->> 0, :name, :queue, CASE WHEN value ->> 2 > :now THEN 'scheduled' ELSE 'queued' END, value ->> 1, :metadata, :priority, NULL,
    :max_attempts, :backoff, :timeout_ms, :keep_completed_ms, :keep_failed_ms, value ->> 2, :created_at
  FROM json_each(:jobs)

-- name: byKey
SELECT id FROM jobsmith_jobs WHERE name = ? AND key = ? AND state IN ('scheduled','queued','running')

-- name: ensureQueue
INSERT OR IGNORE INTO jobsmith_queues (name) VALUES (?)

-- name: pausedQueues
SELECT name FROM jobsmith_queues WHERE paused = 1

-- name: anyClaimable
SELECT 1 AS claimable WHERE
  EXISTS (SELECT 1 FROM jobsmith_jobs WHERE state = 'queued'
    AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))
  OR EXISTS (SELECT 1 FROM jobsmith_jobs WHERE state = 'scheduled' AND run_at <= ?
    AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))
  OR EXISTS (SELECT 1 FROM jobsmith_jobs WHERE state = 'running' AND lease_expires_at <= ?
    AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))
  OR EXISTS (SELECT 1 FROM jobsmith_jobs WHERE failed_hook = 'pending' AND lease_expires_at <= ?
    AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?)))

-- name: ready
SELECT id, priority, run_at FROM jobsmith_jobs
  WHERE state = 'queued' AND queue = ? AND name IN (SELECT value FROM json_each(?))
  ORDER BY priority DESC, run_at, id LIMIT CAST(? AS INTEGER)

-- name: expired
-- INDEXED BY: left to itself the planner walks every running row through the state index.
SELECT id, cancel_requested, keep_failed_ms, queue, has_parents FROM jobsmith_jobs INDEXED BY jobsmith_jobs_running
  WHERE state = 'running' AND lease_expires_at <= ?
    AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?))
  ORDER BY lease_expires_at LIMIT CAST(? AS INTEGER)

-- name: expiredHooks
-- Failed jobs whose `failed` hook is pending under a lease that lapsed: their worker died.
SELECT id FROM jobsmith_jobs INDEXED BY jobsmith_jobs_hook_pending
  WHERE failed_hook = 'pending' AND lease_expires_at <= ?
    AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?))
  ORDER BY lease_expires_at LIMIT CAST(? AS INTEGER)

-- name: promote
UPDATE jobsmith_jobs SET state = 'queued' WHERE state = 'scheduled' AND run_at <= ?

-- name: nextRunAt
SELECT min(run_at) AS at FROM jobsmith_jobs
  WHERE state = 'scheduled' AND queue IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?))

-- name: start
UPDATE jobsmith_jobs SET state = 'running', started_at = ?, lease_token = ?, lease_worker = ?, lease_expires_at = ?,
  crashes = crashes + ? WHERE id = ? RETURNING *

-- name: startBatch
-- Each job's token is the claim's prefix and the job's place in the batch (the json_each key).
UPDATE jobsmith_jobs SET state = 'running', started_at = ?, lease_token = ? || chosen.key, lease_worker = ?, lease_expires_at = ?
  FROM json_each(?) AS chosen WHERE jobsmith_jobs.id = chosen.value RETURNING *

-- name: completeBatch
-- A completion moves the row to jobsmith_finished itself (migration 8), here rather than through
-- the trigger on finished_at that the other outcomes go by: the row about to be deleted is not
-- rewritten first, and no trigger is called on jobsmith_jobs for it. completeMoved deletes it next.
-- `+j.state`: with an index usable for j.state, SQLite walked every running row and scanned
-- the whole JSON batch for each (50 running rows: 50 × 50), instead of looking each outcome's
-- row up by id. The row is copied column by column (state 1: completed), its times as ms after
-- created_at and its token's 16-character prefix (migration 9); of flows it reads only has_parents.
INSERT INTO jobsmith_finished
  (id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff, timeout_ms, keep_completed_ms,
   keep_failed_ms, run_after, created_at, started_after, finished_after, result, error, progress, progress_history, logs, expires_after, failed_hook,
   settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents, total_children, pending_children, run_if)
  SELECT j.id, j.name, j.queue, 1, j.payload, nullif(j.metadata, '{}'), j.priority, j.key, j.attempts + 1, j.max_attempts, j.crashes,
    j.backoff, j.timeout_ms, j.keep_completed_ms, j.keep_failed_ms, j.run_at - j.created_at, j.created_at, j.started_at - j.created_at, ? - j.created_at,
    nullif(s.result, 'null'), j.error, j.progress, nullif(j.progress_history, '[]'), nullif(j.logs, '[]'), s.expires_at - j.created_at, j.failed_hook,
    substr(s.token, 1, 16), j.attempt_history,
    j.attempt_history_dropped, j.flow_id, j.has_parents, j.total_children, j.pending_children, j.run_if
  FROM (SELECT value ->> 'id' AS id, value ->> 'token' AS token, value -> 'result' AS result, value ->> 'expiresAt' AS expires_at
        FROM json_each(?)) AS s
  JOIN jobsmith_jobs AS j ON j.id = s.id
  WHERE +j.state = 'running' AND j.lease_token = s.token
  RETURNING id, queue, has_parents

-- name: completeMoved
-- The rows completeBatch copied: a running job whose id is in jobsmith_finished was just moved
-- (a job's row is in one table only otherwise), so the delete trigger leaves its steps be.
DELETE FROM jobsmith_jobs WHERE id IN (SELECT value ->> 'id' FROM json_each(?)) AND +state = 'running'
  AND EXISTS (SELECT 1 FROM jobsmith_finished AS f WHERE f.id = jobsmith_jobs.id)

-- name: cancelExpired
UPDATE jobsmith_jobs SET state = 'cancelled', finished_at = ?, expires_at = ?, cancel_requested = 0,
  lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL WHERE id = ?

-- name: renew
UPDATE jobsmith_jobs SET lease_expires_at = ?
  WHERE id = ? AND lease_token = ? AND (state = 'running' OR failed_hook = 'pending') RETURNING cancel_requested

-- name: heldHistory
SELECT progress_history FROM jobsmith_jobs WHERE id = ? AND state = 'running' AND lease_token = ?

-- name: setProgress
UPDATE jobsmith_jobs SET progress = ?, progress_history = ? WHERE id = ?

-- name: heldLogs
SELECT logs FROM jobsmith_jobs WHERE id = ? AND state = 'running' AND lease_token = ?

-- name: setLogs
UPDATE jobsmith_jobs SET logs = ? WHERE id = ?

-- name: retryLater
UPDATE jobsmith_jobs SET state = ?, attempts = attempts + ?, error = coalesce(?, error), run_at = ?,
  settled_token = lease_token, lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
  WHERE id = ? AND state = 'running' AND lease_token = ? RETURNING queue

-- name: fail
-- With its hook pending, a failed job keeps the lease: the worker that runs the hook holds it.
UPDATE jobsmith_jobs SET state = 'failed', attempts = attempts + @attempts, error = @error, finished_at = @now,
  expires_at = @expiresAt, cancel_requested = 0, settled_token = lease_token,
  failed_hook = CASE WHEN @hookPending THEN 'pending' END,
  lease_token = CASE WHEN @hookPending THEN lease_token END, lease_worker = CASE WHEN @hookPending THEN lease_worker END,
  lease_expires_at = CASE WHEN @hookPending THEN lease_expires_at END
  WHERE id = @id AND state = 'running' AND lease_token = @token RETURNING queue, has_parents

-- name: cancelRunning
UPDATE jobsmith_jobs SET state = 'cancelled', error = coalesce(?, error), finished_at = ?, expires_at = ?,
  cancel_requested = 0, settled_token = lease_token, lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
  WHERE id = ? AND state = 'running' AND lease_token = ? RETURNING queue, has_parents

-- name: hookDone
UPDATE jobsmith_jobs SET failed_hook = 'done', settled_token = lease_token, lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
  WHERE id = ? AND state = 'failed' AND failed_hook = 'pending' AND lease_token = ? RETURNING queue

-- name: hookDoneBy
-- A hook-done counts as written again only once the hook is done: while it is pending, the
-- failure's token is the stored one, and a dead worker's lease must not end another's hook.
-- A finished row keeps the token's 16-character prefix (migration 9): see settledBy.
SELECT 1 AS applied FROM jobsmith_any_job WHERE id = @id AND failed_hook = 'done' AND settled_token IN (@token, substr(@token, 1, 16))

-- name: settledBy
-- The whole token (a job still in jobsmith_jobs, retried later) or its 16-character prefix (a
-- finished row, migration 9): the prefix is the claim's random part, which no other claim of
-- the job shares, so a different claim's token matches neither.
SELECT 1 AS applied FROM jobsmith_any_job WHERE id = @id AND settled_token IN (@token, substr(@token, 1, 16))

-- name: takeOverHook
UPDATE jobsmith_jobs SET lease_token = ?, lease_worker = ?, lease_expires_at = ?, crashes = crashes + 1
  WHERE id = ? RETURNING *

-- name: dataVersion
-- Read by the watch of the file (sqlite-watch.ts) up to once a millisecond: changes when another
-- connection commits. Prepared once: `db.pragma()` prepares its statement on every call, about
-- 12 µs against 5 (the look itself takes a read lock on the log).
PRAGMA data_version

-- name: cancelRequests
-- Read by the watch of the file (sqlite-watch.ts) after another process committed. Reads
-- only the running rows (through an index on state); there are as many as jobs run.
SELECT id, lease_token FROM jobsmith_jobs WHERE state = 'running' AND cancel_requested = 1

-- name: touchQueue
-- At most once a second a queue: an UPDATE that matches no row writes no page, and a settle
-- that rewrote the queue's row every time wrote one page more to the log for every job
-- processed at concurrency 1 (about 4% of its CPU, issue #21). PostgreSQL's settle does the same.
UPDATE jobsmith_queues SET last_processed_at = :now
  WHERE name = :queue AND (last_processed_at IS NULL OR last_processed_at < :now - 1000)

-- name: addCounts
INSERT INTO jobsmith_counts (queue, bucket, completed, failed) VALUES (?, ?, ?, ?)
  ON CONFLICT (queue, bucket) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed
