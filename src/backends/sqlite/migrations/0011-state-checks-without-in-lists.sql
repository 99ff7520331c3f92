-- The state check of jobsmith_jobs, and the WHEN clauses of its triggers, written as
-- comparisons joined by OR instead of `IN (…)` lists (issue #21). SQLite evaluates an IN list of
-- more than two constants by building a temporary b-tree of them, once per run of the statement
-- or trigger: the check, on every enqueue and every change of state, and the finished trigger's
-- WHEN, on every failure and cancel. On a bare connection, one-row INSERTs of the enqueue, 1,000
-- to a transaction, cost 6.2-7.7 µs a row with the IN check and 4.8-6.1 with the OR check, the
-- same as with no check at all (bench/where-the-time-goes.md). The rules themselves do not
-- change. A test (test/sqlite/no-temporary-lists.test.ts) holds the schema to no such list in
-- the check or a trigger's WHEN, and the enqueue's INSERT to the one temporary b-tree behind its
-- key test.
--
-- SQLite cannot change a table's check in place: the table is made again as migration 10 made
-- it, and with it the views and triggers that name it.

DROP VIEW jobsmith_any_job;
DROP VIEW jobsmith_finished_job;
DROP TRIGGER jobsmith_finished_parent_deleted;

CREATE TABLE jobsmith_jobs_rebuilt (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  queue TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state = 'queued' OR state = 'running' OR state = 'scheduled' OR state = 'completed' OR state = 'failed' OR state = 'cancelled'),
  payload TEXT NOT NULL,
  metadata TEXT NOT NULL,
  priority INTEGER NOT NULL,
  key TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  crashes INTEGER NOT NULL DEFAULT 0,
  backoff TEXT,
  timeout_ms INTEGER,
  keep_completed_ms INTEGER,
  keep_failed_ms INTEGER,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  result TEXT,
  error TEXT,
  progress TEXT,
  progress_history TEXT NOT NULL DEFAULT '[]',
  logs TEXT NOT NULL DEFAULT '[]',
  lease_token TEXT,
  lease_worker TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER,
  failed_hook TEXT CHECK (failed_hook IN ('pending','done')),
  settled_token TEXT,
  attempt_history TEXT,
  attempt_history_dropped INTEGER NOT NULL DEFAULT 0,
  flow_id TEXT,
  has_parents INTEGER NOT NULL DEFAULT 0,
  total_children INTEGER NOT NULL DEFAULT 0,
  pending_children INTEGER NOT NULL DEFAULT 0,
  run_if TEXT CHECK (run_if IN ('always','any-child-failed'))
) WITHOUT ROWID;
INSERT INTO jobsmith_jobs_rebuilt (id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress, progress_history, logs, lease_token, lease_worker, lease_expires_at, cancel_requested, expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents, total_children, pending_children, run_if)
  SELECT id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress, progress_history, logs, lease_token, lease_worker, lease_expires_at, cancel_requested, expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents, total_children, pending_children, run_if FROM jobsmith_jobs;
-- Also drops its indexes and its triggers (jobsmith_jobs_attempt_ended, jobsmith_jobs_finished, jobsmith_jobs_parent_deleted).
DROP TABLE jobsmith_jobs;
ALTER TABLE jobsmith_jobs_rebuilt RENAME TO jobsmith_jobs;

-- The indexes, views and triggers as in migration 10.
CREATE INDEX jobsmith_jobs_ready ON jobsmith_jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobsmith_jobs_scheduled ON jobsmith_jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobsmith_jobs_running ON jobsmith_jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX jobsmith_jobs_key ON jobsmith_jobs (name, key)
  WHERE key IS NOT NULL AND state IN ('scheduled','queued','running');
CREATE INDEX jobsmith_jobs_hook_pending ON jobsmith_jobs (lease_expires_at) WHERE failed_hook = 'pending';
CREATE INDEX jobsmith_jobs_flow ON jobsmith_jobs (flow_id) WHERE flow_id IS NOT NULL;

CREATE VIEW jobsmith_finished_job AS
  SELECT id, name, queue, CASE state WHEN 1 THEN 'completed' WHEN 2 THEN 'failed' ELSE 'cancelled' END AS state, payload, coalesce(metadata, '{}') AS metadata, priority, key, attempts, max_attempts, crashes,
    backoff, timeout_ms, keep_completed_ms, keep_failed_ms, created_at + run_after AS run_at, created_at, created_at + started_after AS started_at,
    created_at + finished_after AS finished_at, result, error, progress,
    coalesce(progress_history, '[]') AS progress_history, coalesce(logs, '[]') AS logs, NULL AS lease_token, NULL AS lease_worker,
    NULL AS lease_expires_at, 0 AS cancel_requested, created_at + expires_after AS expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped,
    flow_id, has_parents, total_children, pending_children, run_if
  FROM jobsmith_finished;

CREATE VIEW jobsmith_any_job AS SELECT * FROM jobsmith_jobs UNION ALL SELECT * FROM jobsmith_finished_job;

CREATE TRIGGER jobsmith_jobs_attempt_ended AFTER UPDATE OF state, crashes ON jobsmith_jobs
  WHEN OLD.state = 'running' AND (NEW.crashes > OLD.crashes OR NEW.state IN ('failed', 'cancelled')
    OR (NEW.state IN ('scheduled', 'queued') AND NEW.attempts > OLD.attempts))
    AND NOT ((NEW.state = 'completed' OR NEW.state = 'failed' OR NEW.state = 'cancelled') AND NEW.failed_hook IS NOT 'pending')
BEGIN
  UPDATE jobsmith_jobs SET
    attempt_history = json_insert(
      CASE WHEN json_array_length(coalesce(attempt_history, '[]')) >= 50 THEN json_remove(attempt_history, '$[0]')
           ELSE coalesce(attempt_history, '[]') END,
      '$[#]', json_object(
        'attempt', OLD.attempts + 1,
        'workerId', OLD.lease_worker,
        'startedAt', OLD.started_at,
        -- A crash ended when its lease lapsed; a retried failure when its error was made.
        'endedAt', CASE WHEN NEW.crashes > OLD.crashes THEN OLD.lease_expires_at
                        WHEN NEW.state IN ('failed', 'cancelled') THEN NEW.finished_at
                        ELSE NEW.error ->> 'at' END,
        'outcome', CASE WHEN NEW.crashes > OLD.crashes THEN 'crashed'
                        WHEN NEW.state = 'cancelled' THEN 'cancelled'
                        WHEN NEW.settled_token IS NOT OLD.settled_token AND NEW.error ->> 'code' = 'TIMEOUT' THEN 'timed-out'
                        ELSE 'failed' END,
        -- The error this attempt's outcome wrote (an outcome written stores its lease token in
        -- settled_token); none for a crash, or a cancel ended by a takeover, which write none.
        'error', CASE WHEN NEW.settled_token IS NOT OLD.settled_token THEN json(NEW.error) END,
        'retryAt', CASE WHEN NEW.state IN ('scheduled', 'queued') AND NEW.crashes = OLD.crashes THEN NEW.run_at END)),
    attempt_history_dropped = attempt_history_dropped + (json_array_length(coalesce(attempt_history, '[]')) >= 50)
  WHERE id = NEW.id;
END;

CREATE TRIGGER jobsmith_jobs_finished AFTER UPDATE OF finished_at, failed_hook ON jobsmith_jobs
  WHEN (NEW.state = 'completed' OR NEW.state = 'failed' OR NEW.state = 'cancelled') AND NEW.failed_hook IS NOT 'pending'
BEGIN
  UPDATE jobsmith_jobs SET
    attempt_history = json_insert(
      CASE WHEN json_array_length(coalesce(attempt_history, '[]')) >= 50 THEN json_remove(attempt_history, '$[0]')
           ELSE coalesce(attempt_history, '[]') END,
      '$[#]', json_object(
        'attempt', OLD.attempts + 1,
        'workerId', OLD.lease_worker,
        'startedAt', OLD.started_at,
        -- A crash ended when its lease lapsed; a retried failure when its error was made.
        'endedAt', CASE WHEN NEW.crashes > OLD.crashes THEN OLD.lease_expires_at
                        WHEN NEW.state IN ('failed', 'cancelled') THEN NEW.finished_at
                        ELSE NEW.error ->> 'at' END,
        'outcome', CASE WHEN NEW.crashes > OLD.crashes THEN 'crashed'
                        WHEN NEW.state = 'cancelled' THEN 'cancelled'
                        WHEN NEW.settled_token IS NOT OLD.settled_token AND NEW.error ->> 'code' = 'TIMEOUT' THEN 'timed-out'
                        ELSE 'failed' END,
        -- The error this attempt's outcome wrote (an outcome written stores its lease token in
        -- settled_token); none for a crash, or a cancel ended by a takeover, which write none.
        'error', CASE WHEN NEW.settled_token IS NOT OLD.settled_token THEN json(NEW.error) END,
        'retryAt', CASE WHEN NEW.state IN ('scheduled', 'queued') AND NEW.crashes = OLD.crashes THEN NEW.run_at END)),
    attempt_history_dropped = attempt_history_dropped + (json_array_length(coalesce(attempt_history, '[]')) >= 50)
  WHERE id = NEW.id AND OLD.state = 'running' AND (NEW.crashes > OLD.crashes OR NEW.state IN ('failed', 'cancelled'));
  INSERT INTO jobsmith_finished
    SELECT id, name, queue, CASE state WHEN 'completed' THEN 1 WHEN 'failed' THEN 2 ELSE 3 END, payload, nullif(metadata, '{}'), priority, key, attempts, max_attempts, crashes, backoff, timeout_ms,
      keep_completed_ms, keep_failed_ms, run_at - created_at, created_at, started_at - created_at, finished_at - created_at, nullif(result, 'null'), error, progress,
      nullif(progress_history, '[]'), nullif(logs, '[]'), expires_at - created_at, failed_hook, substr(settled_token, 1, 16), attempt_history, attempt_history_dropped,
      flow_id, has_parents, total_children, pending_children, run_if
    FROM jobsmith_jobs WHERE id = NEW.id;
  DELETE FROM jobsmith_jobs WHERE id = NEW.id;
END;

CREATE TRIGGER jobsmith_jobs_parent_deleted AFTER DELETE ON jobsmith_jobs
  WHEN NOT EXISTS (SELECT 1 FROM jobsmith_finished WHERE id = OLD.id)
BEGIN
  DELETE FROM jobsmith_steps WHERE job_id = OLD.id;
  UPDATE jobsmith_jobs SET has_parents = 0
    WHERE OLD.total_children > 0 AND id IN (SELECT child_id FROM jobsmith_dependencies WHERE parent_id = OLD.id)
      AND NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS other WHERE other.child_id = jobsmith_jobs.id AND other.parent_id <> OLD.id);
  UPDATE jobsmith_finished SET has_parents = 0
    WHERE OLD.total_children > 0 AND id IN (SELECT child_id FROM jobsmith_dependencies WHERE parent_id = OLD.id)
      AND NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS other WHERE other.child_id = jobsmith_finished.id AND other.parent_id <> OLD.id);
  DELETE FROM jobsmith_dependencies WHERE OLD.total_children > 0 AND parent_id = OLD.id;
END;

CREATE TRIGGER jobsmith_finished_parent_deleted AFTER DELETE ON jobsmith_finished
  WHEN NOT EXISTS (SELECT 1 FROM jobsmith_jobs WHERE id = OLD.id)
BEGIN
  DELETE FROM jobsmith_steps WHERE job_id = OLD.id;
  UPDATE jobsmith_jobs SET has_parents = 0
    WHERE OLD.total_children > 0 AND id IN (SELECT child_id FROM jobsmith_dependencies WHERE parent_id = OLD.id)
      AND NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS other WHERE other.child_id = jobsmith_jobs.id AND other.parent_id <> OLD.id);
  UPDATE jobsmith_finished SET has_parents = 0
    WHERE OLD.total_children > 0 AND id IN (SELECT child_id FROM jobsmith_dependencies WHERE parent_id = OLD.id)
      AND NOT EXISTS (SELECT 1 FROM jobsmith_dependencies AS other WHERE other.child_id = jobsmith_finished.id AND other.parent_id <> OLD.id);
  DELETE FROM jobsmith_dependencies WHERE OLD.total_children > 0 AND parent_id = OLD.id;
END;
