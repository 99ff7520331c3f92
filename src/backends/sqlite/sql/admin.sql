-- The JobAdmin role's statements (sqlite-admin.ts), prepared once per connection
-- (sqlite-connection.ts). `list` builds its statement from the filter it is given.
-- A limit is `LIMIT CAST(? AS INTEGER)`, not `LIMIT ?`: see queue.sql.

-- name: byId
SELECT * FROM jobsmith_jobs WHERE id = ?

-- name: byPrefix
-- A range scan on the id index; LIKE would not use it and treats _ and % specially.
SELECT * FROM jobsmith_jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT CAST(? AS INTEGER)

-- name: anyDue
SELECT 1 AS due FROM jobsmith_jobs WHERE state = 'scheduled' AND run_at <= ? LIMIT 1

-- name: requestCancel
UPDATE jobsmith_jobs SET cancel_requested = 1 WHERE id = ? RETURNING *

-- name: cancelWaiting
UPDATE jobsmith_jobs SET state = 'cancelled', finished_at = ?, expires_at = ? WHERE id = ? RETURNING *

-- name: retry
UPDATE jobsmith_jobs SET state = 'queued', attempts = 0, crashes = 0, run_at = ?, finished_at = NULL, expires_at = NULL,
  cancel_requested = 0, failed_hook = NULL WHERE id = ? RETURNING *

-- name: deleteById
DELETE FROM jobsmith_jobs WHERE id = ?

-- name: pruneFinished
-- A job whose failed hook is pending stays until the hook has run; a flow job stays while a
-- parent of it has not finished (the parent will read its result). Jobs outside flows pay the
-- has_parents test alone.
DELETE FROM jobsmith_jobs WHERE state IN (SELECT value FROM json_each(?))
  AND state IN ('completed','failed','cancelled') AND finished_at <= ? AND failed_hook IS NOT 'pending'
  AND (has_parents = 0 OR NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS d JOIN jobsmith_jobs AS p ON p.id = d.parent_id
    WHERE d.child_id = jobsmith_jobs.id AND p.state IN ('scheduled','queued','running')))

-- name: pruneExpired
DELETE FROM jobsmith_jobs WHERE expires_at <= ? AND state IN ('completed','failed','cancelled')
  AND failed_hook IS NOT 'pending'
  AND (has_parents = 0 OR NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS d JOIN jobsmith_jobs AS p ON p.id = d.parent_id
    WHERE d.child_id = jobsmith_jobs.id AND p.state IN ('scheduled','queued','running')))

-- name: pruneCounts
DELETE FROM jobsmith_counts WHERE bucket <= ?

-- name: stateCounts
SELECT queue, state, count(*) AS count FROM jobsmith_jobs GROUP BY state, queue

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
