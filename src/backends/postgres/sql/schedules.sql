-- The ScheduleStore role's statements (postgres-schedules.ts). :SCHEMA is the quoted schema
-- name, filled in once when the backend is built.

-- name: lockScheduleId
SELECT pg_advisory_xact_lock(hashtext($1))

-- name: getSchedule
SELECT * FROM :SCHEMA.schedules WHERE id = $1

-- name: enableSchedule
UPDATE :SCHEMA.schedules SET enabled = $2, next_run_at = $3, updated_at = $4 WHERE id = $1 RETURNING *

-- name: upsertSchedule
INSERT INTO :SCHEMA.schedules (id, spec, spec_text, enabled, next_run_at, created_at, updated_at)
VALUES ($1, $2::jsonb, $6::text, $3, $4, $5, $5)
ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, spec_text = excluded.spec_text, enabled = excluded.enabled,
  next_run_at = excluded.next_run_at, updated_at = excluded.updated_at
RETURNING *

-- name: listSchedules
SELECT * FROM :SCHEMA.schedules ORDER BY id

-- name: removeSchedule
DELETE FROM :SCHEMA.schedules WHERE id = $1

-- name: setScheduleEnabled
WITH current AS (SELECT * FROM :SCHEMA.schedules WHERE id = $1 FOR UPDATE),
     changed AS (UPDATE :SCHEMA.schedules s SET enabled = $2, next_run_at = CASE WHEN $2 THEN $3 ELSE s.next_run_at END, updated_at = $4
                 FROM current WHERE s.id = current.id AND current.enabled <> $2 RETURNING s.*)
SELECT * FROM changed UNION ALL SELECT * FROM current WHERE NOT EXISTS (SELECT 1 FROM changed)

-- name: lockDueSchedule
SELECT * FROM :SCHEMA.schedules WHERE id = $1 AND enabled AND next_run_at = $2 FOR UPDATE SKIP LOCKED

-- name: isJobActive
SELECT 1 FROM :SCHEMA.jobs WHERE id = $1 AND state IN ('scheduled','queued','running')

-- name: skipScheduleRun
UPDATE :SCHEMA.schedules SET next_run_at = $2, updated_at = $3 WHERE id = $1

-- name: recordScheduleRun
UPDATE :SCHEMA.schedules SET next_run_at = $2, last_run_at = coalesce($3, last_run_at), last_job_id = coalesce($4, last_job_id),
  updated_at = $5 WHERE id = $1
