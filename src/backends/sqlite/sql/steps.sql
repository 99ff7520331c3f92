-- The durable-steps role's statements (sqlite-steps.ts), prepared once per connection.

-- name: recordStep
-- Fenced by the lease: nothing is written unless the attempt still holds the running job.
-- A name recorded before keeps its row (and its place in the order); its record is replaced.
INSERT INTO jobsmith_steps (job_id, name, started_at, record)
  SELECT id, @name, @startedAt, @record FROM jobsmith_jobs WHERE id = @id AND state = 'running' AND lease_token = @token
  ON CONFLICT (job_id, name) DO UPDATE SET started_at = excluded.started_at, record = excluded.record

-- name: stepsOf
SELECT record FROM jobsmith_steps WHERE job_id = ? ORDER BY started_at, seq
