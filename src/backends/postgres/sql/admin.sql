-- The JobAdmin role's statements (postgres-admin.ts). :SCHEMA is the quoted schema name,
-- filled in once when the backend is built.

-- name: getJob
-- Active or finished (migration 11): all_jobs, two primary-key probes.
SELECT * FROM :SCHEMA.all_jobs WHERE id = $1

-- name: findJobsInIdRange
SELECT * FROM :SCHEMA.all_jobs WHERE id BETWEEN $1 AND $2 ORDER BY id LIMIT $3

-- name: listJobs
-- The head of list(): its WHERE (only the filters given) and its ORDER BY and LIMIT are
-- appended in postgres-admin.ts, since which filters a call gives, and so the parameter
-- numbers, vary. Both tables, merged in id order (the ORDER BY id DESC LIMIT of list()).
SELECT * FROM :SCHEMA.all_jobs

-- name: lockJob
-- In either table (FOR UPDATE cannot go through the view's UNION).
WITH a AS (SELECT * FROM :SCHEMA.jobs WHERE id = $1 FOR UPDATE),
     f AS (SELECT * FROM :SCHEMA.finished_jobs WHERE id = $1 FOR UPDATE)
SELECT * FROM a UNION ALL SELECT * FROM f

-- name: requestCancel
UPDATE :SCHEMA.jobs SET cancel_requested = true WHERE id = $1 RETURNING *

-- name: notify
SELECT pg_notify($1, $2)

-- name: cancelJob
UPDATE :SCHEMA.jobs SET state = 'cancelled', finished_at = $2,
  expires_at = CASE WHEN keep_failed_ms IS NULL THEN NULL ELSE $2 + keep_failed_ms END WHERE id = $1 RETURNING *

-- name: touchQueue
UPDATE :SCHEMA.queues SET last_processed_at = $2 WHERE name = $1

-- name: keyHeldByActiveJob
SELECT 1 FROM :SCHEMA.jobs WHERE name = $1 AND key = $2 AND state IN ('scheduled','queued','running')

-- name: requeueJob
-- A failed or cancelled job goes back to jobs (a new seq: it queues as if enqueued now, in its
-- priority); inserted before it is deleted, so finished_jobs_steps keeps its steps.
WITH gone AS (DELETE FROM :SCHEMA.finished_jobs WHERE id = $1 RETURNING *)
INSERT INTO :SCHEMA.jobs (id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff,
    timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress,
    progress_history, logs, lease_token, lease_worker, lease_expires_at, lease_recovered, cancel_requested, expires_at,
    failed_hook, settled_token, attempt_history, attempt_history_dropped, flow_id, run_if, has_parents, total_children,
    pending_children, flow_height)
SELECT id, name, queue, 'queued', payload, metadata, priority, key, 0, max_attempts, 0, backoff,
    timeout_ms, keep_completed_ms, keep_failed_ms, $2, created_at, started_at, NULL, result, error, progress,
    progress_history, logs, lease_token, lease_worker, lease_expires_at, lease_recovered, false, NULL,
    NULL, settled_token, attempt_history, attempt_history_dropped, flow_id, run_if, has_parents, total_children,
    pending_children, flow_height
  FROM gone
RETURNING *

-- name: lockJobState
WITH a AS (SELECT state, failed_hook, has_parents, total_children FROM :SCHEMA.jobs WHERE id = $1 FOR UPDATE),
     f AS (SELECT state, failed_hook, has_parents, total_children FROM :SCHEMA.finished_jobs WHERE id = $1 FOR UPDATE)
SELECT * FROM a UNION ALL SELECT * FROM f

-- name: deleteJob
-- From either table; an active job's steps here, a finished one's by finished_jobs_steps.
WITH a AS (DELETE FROM :SCHEMA.jobs WHERE id = $1 RETURNING id),
     f AS (DELETE FROM :SCHEMA.finished_jobs WHERE id = $1),
     s AS (DELETE FROM :SCHEMA.steps WHERE job_id IN (SELECT id FROM a))
SELECT 1

-- name: pruneFinished
-- A job with children is left to pruneParents (flows.sql), which locks its children first; a
-- flow job stays while a parent of it has not finished (the parent will read its result).
-- Jobs outside flows pay two flag tests. Only finished_jobs holds finished jobs (a failure whose
-- hook is pending stays in jobs), read whole: it has no index on finished_at (migration 11).
-- A parent that has not finished is in jobs.
DELETE FROM :SCHEMA.finished_jobs j WHERE state = ANY ($1::text[]) AND state IN ('completed','failed','cancelled') AND finished_at <= $2
  AND failed_hook IS DISTINCT FROM 'pending' AND total_children = 0
  AND (NOT has_parents OR NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d JOIN :SCHEMA.jobs p ON p.id = d.parent_id
                                       WHERE d.child_id = j.id AND p.state NOT IN ('completed','failed','cancelled')))

-- name: pruneExpired
-- As pruneFinished, through finished_jobs_expires.
DELETE FROM :SCHEMA.finished_jobs j WHERE expires_at <= $1 AND state IN ('completed','failed','cancelled') AND failed_hook IS DISTINCT FROM 'pending'
  AND total_children = 0
  AND (NOT has_parents OR NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d JOIN :SCHEMA.jobs p ON p.id = d.parent_id
                                       WHERE d.child_id = j.id AND p.state NOT IN ('completed','failed','cancelled')))

-- name: pruneCounts
DELETE FROM :SCHEMA.counts WHERE bucket <= $1

-- name: countJobs
-- Both tables read whole: the active one is the jobs waiting or running; the finished one has
-- no (state, queue) index since migration 11, which every claim and completion wrote.
SELECT queue, state, count(*)::int AS count FROM :SCHEMA.jobs GROUP BY state, queue
UNION ALL
SELECT queue, state, count(*)::int AS count FROM :SCHEMA.finished_jobs GROUP BY state, queue

-- name: oldestQueued
-- Per queue, the earliest due time among its queued jobs (the partial index jobs_ready holds them all).
SELECT queue, min(run_at) AS "runAt" FROM :SCHEMA.jobs WHERE state = 'queued' GROUP BY queue

-- name: waitingForChildren
-- Per queue, the flow parents waiting for their children: scheduled at waitingForChildrenRunAt
-- ($1), never due. A seek to that run time in the partial index jobs_scheduled, so it reads the
-- waiting parents and no other job.
SELECT queue, count(*)::int AS count FROM :SCHEMA.jobs
  WHERE state = 'scheduled' AND run_at = $1 AND total_children > 0 GROUP BY queue

-- name: listQueues
SELECT name, paused, last_processed_at FROM :SCHEMA.queues

-- name: countFinished
SELECT queue, bucket, sum(completed)::int AS completed, sum(failed)::int AS failed FROM :SCHEMA.counts
 WHERE bucket > $1 GROUP BY queue, bucket

-- name: pauseQueue
INSERT INTO :SCHEMA.queues (name, paused) VALUES ($1, true) ON CONFLICT (name) DO UPDATE SET paused = true

-- name: resumeQueue
WITH r AS (INSERT INTO :SCHEMA.queues (name, paused) VALUES ($1, false) ON CONFLICT (name) DO UPDATE SET paused = false)
SELECT pg_notify($2, 'q:' || $1::text)

-- name: promoteDue
UPDATE :SCHEMA.jobs SET state = 'queued' WHERE id IN (SELECT id FROM :SCHEMA.jobs WHERE state = 'scheduled' AND run_at <= $1
  ORDER BY run_at LIMIT 10000 FOR UPDATE SKIP LOCKED)
