-- The durable-steps role's statements (postgres-steps.ts).

-- name: recordStep
-- Fenced by the lease. FOR SHARE holds the job's row until the step is written, so a claim
-- taking the job over cannot commit in between: the step lands before the takeover or not at
-- all. A name recorded before keeps its row (and its place in the order); its record is replaced.
INSERT INTO :SCHEMA.steps (job_id, name, started_at, record)
  SELECT id, $3, $4, $5::jsonb FROM :SCHEMA.jobs WHERE id = $1 AND state = 'running' AND lease_token = $2 FOR SHARE
  ON CONFLICT (job_id, name) DO UPDATE SET started_at = excluded.started_at, record = excluded.record

-- name: stepsOf
SELECT record FROM :SCHEMA.steps WHERE job_id = $1 ORDER BY started_at, seq
