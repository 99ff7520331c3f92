-- The JobQueue role's statements (postgres-queue.ts). :SCHEMA is the quoted schema name,
-- filled in once when the backend is built.

-- name: insertJobs
-- Sent as a prepared statement (postgres-hot-statements.ts), so it returns fixed columns.
-- One statement, so one round trip and one commit. A key held by an active job is skipped
-- (ON CONFLICT against the partial unique index jobs_key) and looked up afterwards.
WITH ins AS (INSERT INTO :SCHEMA.jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms,
     keep_completed_ms, keep_failed_ms, run_at, created_at)
   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::int[], $8::text[], $9::int[],
     $10::jsonb[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])
   ON CONFLICT (name, key) WHERE key IS NOT NULL AND state IN ('scheduled','queued','running') DO NOTHING
   RETURNING id, queue),
   queues AS (INSERT INTO :SCHEMA.queues (name) SELECT DISTINCT queue FROM ins ON CONFLICT (name) DO NOTHING)
   SELECT id FROM ins

-- name: insertKeylessJobs
-- insertJobs for a batch of jobs without keys into queues that have their rows: a plain
-- INSERT. No ON CONFLICT (no key can conflict, and its speculative insertion costs every row
-- an extra probe), no RETURNING (every row is stored or the statement fails), no queue rows:
-- about a sixth less server time a job (bench/where-the-time-goes.md, issue #21). A taken id
-- still fails with jobs_pkey, as in insertJobs.
INSERT INTO :SCHEMA.jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms,
     keep_completed_ms, keep_failed_ms, run_at, created_at)
   SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::int[], $8::text[], $9::int[],
     $10::jsonb[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])

-- name: insertSharedJobs
-- insertKeylessJobs for a batch whose jobs share every column but their id, payload and
-- run_at (a bulk enqueue of one job, say): three arrays, and the shared columns bound once. The
-- state follows from run_at and $13, the moment of the call. Parsing twelve arrays of
-- repeated values (and a jsonb per row for the same metadata) was about a quarter of the
-- statement (bench/where-the-time-goes.md, issue #21).
INSERT INTO :SCHEMA.jobs (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms,
     keep_completed_ms, keep_failed_ms, run_at, created_at)
   SELECT j.id, $4::text, $5::text, CASE WHEN j.run_at > $13::bigint THEN 'scheduled' ELSE 'queued' END, j.payload, $6::jsonb,
     $7::int, NULL, $8::int, $9::jsonb, $10::bigint, $11::bigint, $12::bigint, j.run_at, $14::bigint
   FROM unnest($1::uuid[], $2::jsonb[], $3::bigint[]) AS j (id, payload, run_at)

-- name: settleAndClaim
-- Sent as a prepared statement (postgres-hot-statements.ts): settle_and_claim() of migration 3.
SELECT applied, claimed, next_run_at FROM :SCHEMA.settle_and_claim($1::jsonb, $2, $3, $4::text[], $5::text[], $6, $7, $8)

-- name: storedJobsById
-- The jobs of a batch already stored under their ids, waiting, running or finished: is an
-- enqueue a replay of one that committed?
SELECT id, name, created_at FROM :SCHEMA.all_jobs WHERE id = ANY($1::uuid[])

-- name: findActiveJobByKey
SELECT id FROM :SCHEMA.jobs WHERE name = $1 AND key = $2 AND state IN ('scheduled','queued','running')

-- name: startJob
UPDATE :SCHEMA.jobs SET state = 'running', started_at = $1, lease_token = gen_random_uuid()::text, lease_worker = $2,
  lease_expires_at = $3, lease_recovered = false WHERE id = $4 RETURNING *

-- name: renewLeases
-- Rows are locked in (flow_height, id) order, as settle_and_claim() locks them: a heartbeat and a
-- settle of the same jobs on two connections never wait on each other in a cycle. Outside flows
-- every height is 0: id order. In a flow, a child comes before its parent, which a settle of
-- the child locks after it (migration 10).
-- With a worker's presence ($4 to $13, all null without), the same statement registers it
-- (register_worker() of migration 7): the heartbeat keeps the worker listed at no extra
-- round trip. That branch adds one row with a null id, which the caller drops.
WITH l AS (SELECT * FROM unnest($2::uuid[], $3::text[]) AS l(id, token)),
 locked AS (SELECT l.* FROM :SCHEMA.jobs j JOIN l ON j.id = l.id AND j.lease_token = l.token ORDER BY j.flow_height, j.id FOR UPDATE OF j),
 renewed AS (
   UPDATE :SCHEMA.jobs j SET lease_expires_at = $1
     FROM locked l
    WHERE j.id = l.id AND (j.state = 'running' OR j.failed_hook = 'pending') AND j.lease_token = l.token
    RETURNING j.id, j.cancel_requested)
SELECT id, cancel_requested FROM renewed
UNION ALL
SELECT NULL, NULL WHERE CASE WHEN $4::text IS NULL THEN false
  ELSE :SCHEMA.register_worker($4::text, $5::text, $6::integer, $7::text[], $8::text[], $9::integer, $10::integer, $11::bigint, $12::bigint, $13::bigint) END

-- name: recordProgress
UPDATE :SCHEMA.jobs SET progress = $3::jsonb,
  progress_history = CASE WHEN jsonb_array_length(progress_history) >= $4 THEN (progress_history - 0) || jsonb_build_array($3::jsonb)
                          ELSE progress_history || jsonb_build_array($3::jsonb) END
WHERE id = $1 AND state = 'running' AND lease_token = $2

-- name: appendLog
UPDATE :SCHEMA.jobs SET logs = CASE WHEN jsonb_array_length(logs) >= $4 THEN (logs - 0) || jsonb_build_array($3::jsonb)
                                    ELSE logs || jsonb_build_array($3::jsonb) END
WHERE id = $1 AND state = 'running' AND lease_token = $2
