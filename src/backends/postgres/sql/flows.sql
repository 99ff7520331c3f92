-- The flows role's statements (postgres-flows.ts), and the flow steps the admin role runs
-- inside its own transactions (cancel, delete, prune). The schema is migration 10's.

-- name: insertFlow
-- Every job and every dependency of a flow in one statement, so all or nothing without a
-- transaction of ours (and inside the caller's, with { tx }). When one of the ids is already
-- taken nothing is written, and that id comes back. A job with dependencies waits as
-- scheduled with run_at = waitingForChildrenRunAt (the caller sets both); pending_children
-- starts at total_children. The insert trigger of migration 1 wakes workers for queued jobs.
WITH taken AS (SELECT id FROM :SCHEMA.all_jobs WHERE id = ANY ($1::uuid[]) LIMIT 1),
ins AS (
  INSERT INTO :SCHEMA.jobs (id, name, queue, state, payload, metadata, priority, max_attempts, backoff, timeout_ms,
      keep_completed_ms, keep_failed_ms, run_at, created_at, flow_id, run_if, has_parents, total_children, pending_children, flow_height)
  SELECT x.id, x.name, x.queue, x.state, x.payload, x.metadata, x.priority, x.max_attempts, x.backoff, x.timeout_ms,
      x.keep_completed_ms, x.keep_failed_ms, x.run_at, x.created_at, $15, x.run_if, x.has_parents, x.total_children, x.total_children,
      x.flow_height
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::int[], $8::int[], $9::jsonb[],
      $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $16::text[], $17::boolean[], $18::int[], $24::int[])
      AS x(id, name, queue, state, payload, metadata, priority, max_attempts, backoff, timeout_ms, keep_completed_ms,
        keep_failed_ms, run_at, created_at, run_if, has_parents, total_children, flow_height)
   WHERE NOT EXISTS (SELECT 1 FROM taken)
  RETURNING queue
), deps AS (
  INSERT INTO :SCHEMA.flow_dependencies (parent_id, child_id, position, child_name, policy)
  SELECT * FROM unnest($19::uuid[], $20::uuid[], $21::int[], $22::text[], $23::text[])
   WHERE NOT EXISTS (SELECT 1 FROM taken)
), queues AS (
  INSERT INTO :SCHEMA.queues (name) SELECT DISTINCT queue FROM ins ON CONFLICT (name) DO NOTHING
)
SELECT (SELECT id FROM taken) AS taken

-- name: listChildren
-- A dependency outlives its child: a child deleted or pruned is listed with state null.
SELECT d.child_id AS id, d.child_name AS name, c.state, CASE WHEN c.state = 'completed' THEN c.result END AS result,
    c.error, d.policy, c.finished_at
  FROM :SCHEMA.flow_dependencies d LEFT JOIN :SCHEMA.all_jobs c ON c.id = d.child_id
 WHERE d.parent_id = $1
 ORDER BY d.position

-- name: flowProgress
-- Through the partial indexes jobs_flow and finished_jobs_flow. A leaf waits for no other job.
SELECT state, count(*)::int AS count, count(*) FILTER (WHERE total_children = 0)::int AS leaves
  FROM :SCHEMA.all_jobs WHERE flow_id = $1 GROUP BY state

-- name: resolveParents
-- Jobs that finished, or are being deleted before they finished, by a write outside
-- claim() and settle_and_claim() (which call it themselves): see migration 10.
SELECT :SCHEMA.resolve_flow_parents($1::uuid[], $2)

-- name: lockDescendants
-- Before a cancel locks its job: when that job is a parent waiting for its children, its
-- unfinished descendants, children first (flow_height, id), as a settle locks a child before
-- its parent. For any other job, one probe of flow_dependencies that finds nothing.
WITH RECURSIVE descendants (id) AS (
  SELECT d.child_id FROM :SCHEMA.flow_dependencies d
   WHERE d.parent_id = $1
     AND EXISTS (SELECT 1 FROM :SCHEMA.jobs w WHERE w.id = $1 AND w.state = 'scheduled' AND w.run_at = 8640000000000000)
  UNION
  SELECT d.child_id FROM :SCHEMA.flow_dependencies d JOIN descendants t ON d.parent_id = t.id
)
SELECT 1 FROM :SCHEMA.jobs j WHERE j.id IN (SELECT id FROM descendants) AND j.state IN ('scheduled', 'queued', 'running')
 ORDER BY j.flow_height, j.id FOR UPDATE OF j

-- name: lockChildren
-- Before a delete locks its job: a parent's children, in the same order, the active ones first.
WITH a AS (SELECT 1 FROM :SCHEMA.jobs c WHERE c.id IN (SELECT d.child_id FROM :SCHEMA.flow_dependencies d WHERE d.parent_id = $1)
            ORDER BY c.flow_height, c.id FOR UPDATE OF c),
     f AS (SELECT 1 FROM :SCHEMA.finished_jobs c WHERE c.id IN (SELECT d.child_id FROM :SCHEMA.flow_dependencies d WHERE d.parent_id = $1)
            ORDER BY c.flow_height, c.id FOR UPDATE OF c)
SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM f)

-- name: cancelDescendants
-- A waiting parent was cancelled: every descendant that has not finished is cancelled in one
-- statement (so when their parents are resolved afterwards, those inside the cancelled graph
-- have all ended already, and only count down), and a running one is asked to stop, its
-- worker told at once. UNION: a job reached by two paths is visited once.
WITH RECURSIVE descendants (id) AS (
  SELECT child_id FROM :SCHEMA.flow_dependencies WHERE parent_id = $1
  UNION
  SELECT d.child_id FROM :SCHEMA.flow_dependencies d JOIN descendants t ON d.parent_id = t.id
), cancelled AS (
  UPDATE :SCHEMA.jobs j SET state = 'cancelled', finished_at = $2, cancel_requested = false,
      expires_at = CASE WHEN j.keep_failed_ms IS NULL THEN NULL ELSE $2 + j.keep_failed_ms END
    FROM descendants t WHERE j.id = t.id AND j.state IN ('scheduled', 'queued')
  RETURNING j.id, j.queue
), requested AS (
  UPDATE :SCHEMA.jobs j SET cancel_requested = true
    FROM descendants t WHERE j.id = t.id AND j.state = 'running' AND NOT j.cancel_requested
  RETURNING j.id
), touched AS (
  UPDATE :SCHEMA.queues SET last_processed_at = $2 WHERE name IN (SELECT queue FROM cancelled)
), notified AS (
  SELECT pg_notify(':CHANNEL', 'c:' || id) FROM requested
)
SELECT (SELECT coalesce(array_agg(id), '{}') FROM cancelled) AS cancelled,
       (SELECT coalesce(array_agg(id), '{}') FROM requested) AS requested,
       (SELECT count(*) FROM notified) AS notified

-- name: forgetParents
-- Parents just deleted (delete, prune): their dependencies go; a child no other parent waits
-- for any more no longer has parents. The statement sees the dependencies as they were
-- before it, hence the parents named again in the NOT EXISTS.
-- A child is in either table.
WITH gone AS (DELETE FROM :SCHEMA.flow_dependencies WHERE parent_id = ANY ($1::uuid[]) RETURNING child_id),
active AS (
  UPDATE :SCHEMA.jobs c SET has_parents = false
   WHERE c.id IN (SELECT child_id FROM gone) AND c.has_parents
     AND NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d WHERE d.child_id = c.id AND d.parent_id <> ALL ($1::uuid[])))
UPDATE :SCHEMA.finished_jobs c SET has_parents = false
 WHERE c.id IN (SELECT child_id FROM gone) AND c.has_parents
   AND NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d WHERE d.child_id = c.id AND d.parent_id <> ALL ($1::uuid[]))

-- name: lockPrunableParents
-- Prune, after the jobs without children (pruneFinished, pruneExpired in admin.sql): the
-- parents it may remove, under the same conditions ($2 set for finishedBy, $3 for expired),
-- read without a lock; their children are locked first, as a settle locks a child before its
-- parent. Finished parents are in finished_jobs; flow_id IS NOT NULL lets the planner read only
-- flow jobs (the partial index finished_jobs_flow). A parent that has not finished is in jobs.
WITH parents AS (
  SELECT j.id FROM :SCHEMA.finished_jobs j
   WHERE j.flow_id IS NOT NULL AND j.total_children > 0 AND j.state IN ('completed','failed','cancelled')
     AND j.failed_hook IS DISTINCT FROM 'pending'
     AND (($2::bigint IS NOT NULL AND j.state = ANY ($1::text[]) AND j.finished_at <= $2) OR ($3::bigint IS NOT NULL AND j.expires_at <= $3))
     AND (NOT j.has_parents OR NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d JOIN :SCHEMA.jobs p ON p.id = d.parent_id
                                            WHERE d.child_id = j.id AND p.state NOT IN ('completed','failed','cancelled')))
), locked AS (
  SELECT c.id FROM :SCHEMA.jobs c WHERE c.id IN (SELECT d.child_id FROM :SCHEMA.flow_dependencies d WHERE d.parent_id IN (SELECT id FROM parents))
   ORDER BY c.flow_height, c.id FOR UPDATE OF c
), locked_finished AS (
  SELECT c.id FROM :SCHEMA.finished_jobs c WHERE c.id IN (SELECT d.child_id FROM :SCHEMA.flow_dependencies d WHERE d.parent_id IN (SELECT id FROM parents))
   ORDER BY c.flow_height, c.id FOR UPDATE OF c
)
SELECT coalesce((SELECT array_agg(id) FROM parents), '{}') AS parents,
  ((SELECT count(*) FROM locked) + (SELECT count(*) FROM locked_finished))::int AS locked

-- name: pruneParents
-- The parents lockPrunableParents found, those that still meet its conditions now that they are locked.
DELETE FROM :SCHEMA.finished_jobs j
 WHERE j.id = ANY ($4::uuid[]) AND j.state IN ('completed','failed','cancelled') AND j.failed_hook IS DISTINCT FROM 'pending'
   AND (($2::bigint IS NOT NULL AND j.state = ANY ($1::text[]) AND j.finished_at <= $2) OR ($3::bigint IS NOT NULL AND j.expires_at <= $3))
   AND (NOT j.has_parents OR NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d JOIN :SCHEMA.jobs p ON p.id = d.parent_id
                                          WHERE d.child_id = j.id AND p.state NOT IN ('completed','failed','cancelled')))
RETURNING j.id
