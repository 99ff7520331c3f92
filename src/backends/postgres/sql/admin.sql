-- The JobAdmin role's statements (postgres-admin.ts). :SCHEMA is the quoted schema name,
-- filled in once when the backend is built.

-- name: getJob
SELECT * FROM :SCHEMA.jobs WHERE id = $1

-- name: findJobsInIdRange
SELECT * FROM :SCHEMA.jobs WHERE id BETWEEN $1 AND $2 ORDER BY id LIMIT $3

-- name: listJobs
-- The head of list(): its WHERE (only the filters given) and its ORDER BY and LIMIT are
-- appended in postgres-admin.ts, since which filters a call gives, and so the parameter
-- numbers, vary.
SELECT * FROM :SCHEMA.jobs

-- name: lockJob
SELECT * FROM :SCHEMA.jobs WHERE id = $1 FOR UPDATE

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
UPDATE :SCHEMA.jobs SET state = 'queued', attempts = 0, crashes = 0, run_at = $2, finished_at = NULL, expires_at = NULL,
  cancel_requested = false, failed_hook = NULL WHERE id = $1 RETURNING *

-- name: lockJobState
SELECT state, failed_hook, has_parents, total_children FROM :SCHEMA.jobs WHERE id = $1 FOR UPDATE

-- name: deleteJob
DELETE FROM :SCHEMA.jobs WHERE id = $1

-- name: pruneFinished
-- A job with children is left to pruneParents (flows.sql), which locks its children first; a
-- flow job stays while a parent of it has not finished (the parent will read its result).
-- Jobs outside flows pay two flag tests.
DELETE FROM :SCHEMA.jobs j WHERE state = ANY ($1::text[]) AND state IN ('completed','failed','cancelled') AND finished_at <= $2
  AND failed_hook IS DISTINCT FROM 'pending' AND total_children = 0
  AND (NOT has_parents OR NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d JOIN :SCHEMA.jobs p ON p.id = d.parent_id
                                       WHERE d.child_id = j.id AND p.state NOT IN ('completed','failed','cancelled')))

-- name: pruneExpired
-- As pruneFinished.
DELETE FROM :SCHEMA.jobs j WHERE expires_at <= $1 AND state IN ('completed','failed','cancelled') AND failed_hook IS DISTINCT FROM 'pending'
  AND total_children = 0
  AND (NOT has_parents OR NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d JOIN :SCHEMA.jobs p ON p.id = d.parent_id
                                       WHERE d.child_id = j.id AND p.state NOT IN ('completed','failed','cancelled')))

-- name: pruneCounts
DELETE FROM :SCHEMA.counts WHERE bucket <= $1

-- name: countJobs
SELECT queue, state, count(*)::int AS count FROM :SCHEMA.jobs GROUP BY state, queue

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
