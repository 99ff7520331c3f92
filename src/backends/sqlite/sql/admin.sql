-- The JobAdmin role's statements (sqlite-admin.ts), prepared once per connection
-- (sqlite-connection.ts). `list` builds its statement from the filter it is given.
-- A limit is `LIMIT CAST(? AS INTEGER)`, not `LIMIT ?`: see queue.sql.

-- name: byId
SELECT * FROM jobsmith_any_job WHERE id = ?

-- name: byPrefix
-- A range scan on the id index; LIKE would not use it and treats _ and % specially.
-- Each table's range (migration 8), merged in id order: a compound ORDER BY reads both in order
-- through their keys, where the view of both was sorted whole.
-- The range is bound once for each table.
SELECT * FROM jobsmith_jobs WHERE id >= ? AND id < ?
UNION ALL
SELECT * FROM jobsmith_finished_job WHERE id >= ? AND id < ?
ORDER BY id LIMIT CAST(? AS INTEGER)

-- name: anyDue
SELECT 1 AS due FROM jobsmith_jobs WHERE state = 'scheduled' AND run_at <= ? LIMIT 1

-- name: requestCancel
UPDATE jobsmith_jobs SET cancel_requested = 1 WHERE id = ? RETURNING *

-- name: cancelWaiting
UPDATE jobsmith_jobs SET state = 'cancelled', finished_at = ?, expires_at = ? WHERE id = ? RETURNING *

-- name: retry
-- A failed or cancelled job's row moves back to jobsmith_jobs; its seq is new. Its steps, result,
-- error and attempt history stay (its start time made absolute again: migration 9).
INSERT INTO jobsmith_jobs
  (id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff, timeout_ms, keep_completed_ms,
   keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress, progress_history, logs, cancel_requested,
   expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents, total_children,
   pending_children, run_if)
  SELECT id, name, queue, 'queued', payload, coalesce(metadata, '{}'), priority, key, 0, max_attempts, 0, backoff, timeout_ms, keep_completed_ms,
    keep_failed_ms, ?, created_at, created_at + started_after, NULL, result, error, progress, coalesce(progress_history, '[]'), coalesce(logs, '[]'), 0,
    NULL, NULL, settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents, total_children,
    pending_children, run_if
  FROM jobsmith_finished WHERE id = ? AND state IN (2, 3)

-- name: retried
-- The second half of a retry: the finished row goes once its copy is in jobsmith_jobs (whose
-- presence keeps the delete triggers of migration 8 from taking its steps and dependencies).
DELETE FROM jobsmith_finished WHERE id = ?

-- name: deleteById
DELETE FROM jobsmith_jobs WHERE id = ?

-- name: deleteFinishedById
DELETE FROM jobsmith_finished WHERE id = ?

-- name: pruneFinished
-- Finished jobs only (a job whose failed hook is pending is still in jobsmith_jobs, and stays
-- until the hook has run); a flow job stays while a parent of it has not finished (the parent
-- will read its result). Jobs outside flows pay the has_parents test alone. No index: a scan
-- of the finished rows, which keep their primary key alone (issue #21's disk floor). Times in
-- jobsmith_finished are ms after created_at (migration 9).
DELETE FROM jobsmith_finished
  WHERE state IN (SELECT CASE value WHEN 'completed' THEN 1 WHEN 'failed' THEN 2 WHEN 'cancelled' THEN 3 END FROM json_each(?)) AND created_at + finished_after <= ?
  AND (has_parents = 0 OR NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS d JOIN jobsmith_jobs AS p ON p.id = d.parent_id
    WHERE d.child_id = jobsmith_finished.id AND p.state IN ('scheduled','queued','running')))

-- name: pruneExpired
DELETE FROM jobsmith_finished WHERE created_at + expires_after <= ?
  AND (has_parents = 0 OR NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS d JOIN jobsmith_jobs AS p ON p.id = d.parent_id
    WHERE d.child_id = jobsmith_finished.id AND p.state IN ('scheduled','queued','running')))

-- name: pruneCounts
DELETE FROM jobsmith_counts WHERE bucket <= ?

-- name: stateCounts
-- The few rows not finished, counted; the finished ones from their counters (migration 8).
SELECT queue, state, count(*) AS count FROM jobsmith_jobs GROUP BY state, queue
UNION ALL
SELECT queue, CASE state WHEN 1 THEN 'completed' WHEN 2 THEN 'failed' ELSE 'cancelled' END, count FROM jobsmith_finished_counts WHERE count > 0

-- name: queues
SELECT name, paused, last_processed_at FROM jobsmith_queues

-- name: buckets
SELECT queue, bucket, completed, failed FROM jobsmith_counts WHERE bucket > ?

-- name: oldestQueued
-- Per queue, the earliest due time among its queued jobs (the partial index jobsmith_jobs_ready holds them all).
SELECT queue, min(run_at) AS runAt FROM jobsmith_jobs WHERE state = 'queued' GROUP BY queue

-- name: waitingForChildren
-- Per queue, the flow parents waiting for their children: scheduled at waitingForChildrenRunAt
-- (the parameter), never due. A seek to that run time in the partial index jobsmith_jobs_scheduled,
-- so it reads the waiting parents and no other job. `+queue` keeps the planner (without ANALYZE)
-- from reading every scheduled job through jobsmith_jobs_state (state, queue) to skip the sort.
SELECT queue, count(*) AS count FROM jobsmith_jobs
  WHERE state = 'scheduled' AND run_at = ? AND total_children > 0 GROUP BY +queue

-- name: setPaused
INSERT INTO jobsmith_queues (name, paused) VALUES (?, ?)
  ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
