-- The ScheduleStore role's statements (sqlite-schedules.ts), prepared once per connection
-- (sqlite-connection.ts).

-- name: scheduleById
SELECT * FROM jobsmith_schedules WHERE id = ?

-- name: schedules
SELECT * FROM jobsmith_schedules ORDER BY id

-- name: upsertSchedule
INSERT INTO jobsmith_schedules (id, spec, enabled, next_run_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, enabled = excluded.enabled, next_run_at = excluded.next_run_at,
  updated_at = excluded.updated_at RETURNING *

-- name: setScheduleEnabled
UPDATE jobsmith_schedules SET enabled = ?, next_run_at = ?, updated_at = ? WHERE id = ? RETURNING *

-- name: removeSchedule
DELETE FROM jobsmith_schedules WHERE id = ?

-- name: isActive
SELECT 1 AS active FROM jobsmith_jobs WHERE id = ? AND state IN ('scheduled','queued','running')

-- name: advanceSchedule
UPDATE jobsmith_schedules SET next_run_at = ?, updated_at = ? WHERE id = ?

-- name: fireSchedule
UPDATE jobsmith_schedules SET next_run_at = ?, last_run_at = coalesce(?, last_run_at), last_job_id = ?, updated_at = ? WHERE id = ?
