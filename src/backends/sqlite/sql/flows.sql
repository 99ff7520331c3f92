-- The flows role's statements (sqlite-flows.ts), prepared once per connection. The rules they
-- keep are contract/flow-store.ts's; the queue and admin roles call them, in their own
-- transaction, only for rows whose has_parents (or flow_id) says they are in a flow.

-- name: takenId
-- The first id of a new flow already held by a job: the flow is refused before anything is written.
-- Each id is looked up in both tables (migration 8).
SELECT value AS id FROM json_each(?)
  WHERE EXISTS (SELECT 1 FROM jobsmith_jobs WHERE id = value) OR EXISTS (SELECT 1 FROM jobsmith_finished WHERE id = value) LIMIT 1

-- name: insertFlowJob
INSERT INTO jobsmith_jobs
  (id, name, queue, state, payload, metadata, priority, key, max_attempts, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at,
   flow_id, has_parents, total_children, pending_children, run_if)
  VALUES (@id, @name, @queue, @state, @payload, @metadata, @priority, NULL, @maxAttempts, @backoff, @timeoutMs, @keepCompletedMs, @keepFailedMs, @runAt, @createdAt,
   @flowId, @hasParents, @children, @children, @runIf)

-- name: insertDependency
INSERT INTO jobsmith_dependencies (parent_id, child_id, position, child_name, policy) VALUES (?, ?, ?, ?, ?)

-- name: resolveDependencies
-- Every dependency on a child that just finished, resolved once: a dependency resolved before
-- (by an earlier finish of a child since retried) is left as it is.
UPDATE jobsmith_dependencies SET outcome = @outcome WHERE child_id = @childId AND outcome IS NULL
  RETURNING parent_id, child_name, policy

-- name: countDown
-- The parent's counter goes down whatever its state; the caller changes only a waiting one.
UPDATE jobsmith_jobs SET pending_children = pending_children - 1 WHERE id = ?
  RETURNING id, state, run_at, pending_children, run_if, queue, keep_failed_ms, has_parents

-- name: countDownFinished
-- The same for a parent that finished already (a child it no longer waits for finished later).
UPDATE jobsmith_finished SET pending_children = pending_children - 1 WHERE id = ?

-- name: anyNotCompleted
SELECT 1 AS found FROM jobsmith_dependencies WHERE parent_id = ? AND outcome IS NOT 'completed' LIMIT 1

-- name: releaseParent
UPDATE jobsmith_jobs SET state = 'queued', run_at = ? WHERE id = ?

-- name: finishParent
-- A waiting parent failed or cancelled by a child (or by its run condition): it never ran, so
-- it holds no lease and no failed hook is due.
UPDATE jobsmith_jobs SET state = ?, error = ?, finished_at = ?, expires_at = ? WHERE id = ?

-- name: unfinishedDescendants
-- Every job below a parent, through any depth of dependencies (UNION, not UNION ALL: a job
-- reached by two paths is walked once), that has not finished. A recursive CTE is a loop in
-- SQLite, not a recursion: a chain of maxFlowJobs needs no stack. CROSS JOIN keeps the order:
-- each job found is looked up by id, where the planner, left to itself, walked every active job
-- through the state index and looked each up in the set found.
WITH RECURSIVE below (id) AS (
  SELECT child_id FROM jobsmith_dependencies WHERE parent_id = ?
  UNION
  SELECT d.child_id FROM below CROSS JOIN jobsmith_dependencies AS d ON d.parent_id = below.id
)
SELECT j.id, j.state, j.queue, j.keep_failed_ms, j.cancel_requested FROM below CROSS JOIN jobsmith_jobs AS j ON j.id = below.id
  WHERE j.state IN ('scheduled','queued','running')

-- name: cancelDescendant
UPDATE jobsmith_jobs SET state = 'cancelled', finished_at = ?, expires_at = ? WHERE id = ?

-- name: requestCancelDescendant
UPDATE jobsmith_jobs SET cancel_requested = 1 WHERE id = ?

-- name: childrenOf
-- A child deleted or pruned after it finished has no row: listed from its dependency alone.
-- A child's row is in one of the two tables (migration 8); a join with the view of both would
-- scan it. A finished row's finished_at is ms after its created_at (migration 9).
SELECT d.child_id, d.child_name, d.policy, coalesce(j.state, CASE f.state WHEN 1 THEN 'completed' WHEN 2 THEN 'failed' WHEN 3 THEN 'cancelled' END) AS state, coalesce(j.result, f.result) AS result,
    coalesce(j.error, f.error) AS error, coalesce(j.finished_at, f.created_at + f.finished_after) AS finished_at
  FROM jobsmith_dependencies AS d LEFT JOIN jobsmith_jobs AS j ON j.id = d.child_id LEFT JOIN jobsmith_finished AS f ON f.id = d.child_id
  WHERE d.parent_id = ? ORDER BY d.position

-- name: flowCounts
SELECT state, count(*) AS count, sum(total_children = 0) AS leaves FROM jobsmith_jobs WHERE flow_id = ? GROUP BY state

-- name: finishedFlowCounts
SELECT CASE state WHEN 1 THEN 'completed' WHEN 2 THEN 'failed' ELSE 'cancelled' END AS state, count(*) AS count, sum(total_children = 0) AS leaves
  FROM jobsmith_finished WHERE flow_id = ? GROUP BY state
