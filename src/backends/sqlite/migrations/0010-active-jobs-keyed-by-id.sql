-- jobsmith_jobs keyed by the job's id, WITHOUT ROWID (issue #21's enqueue floors: single and
-- bulk enqueue ≥ plainjob). Before, the table was a rowid table (`seq INTEGER PRIMARY KEY`)
-- with a separate unique index on the 36-character id, so every enqueue wrote three b-trees:
-- the table, the id index and the ready index. Keyed by the id, it writes two, as plainjob's
-- table does; a lookup by id (settle, get, cancel) reads one b-tree instead of two. On a bare
-- connection the same rows insert about as fast as into plainjob's table, one per commit
-- (bench/where-the-time-goes.md, "SQLite enqueue against plainjob").
--
-- `seq` goes. It ordered jobs of equal priority and run time by enqueue; the id does that
-- now: ids are UUIDv7 (domain/ids.ts), time-ordered and strictly increasing within a
-- process, so the ready index's (queue, priority DESC, run_at, id) keeps enqueue order for a
-- process's jobs, and orders two processes' jobs of the same millisecond by their ids. A
-- released job keeps its id, so it keeps its place in line, as it kept its seq. A batch
-- claim's lease tokens end in the job's place in the batch instead of its seq.
--
-- A row is wider than 1/20 of a page only for large payloads; those now spill to overflow
-- pages a little sooner (an index b-tree keeps less of a cell in its leaf than a table b-tree).
--
-- The views and the triggers that name jobsmith_jobs are made again, unchanged but for `seq`.

DROP VIEW jobsmith_any_job;
DROP VIEW jobsmith_finished_job;
DROP TRIGGER jobsmith_finished_parent_deleted;

CREATE TABLE jobsmith_jobs_keyed (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  queue TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('scheduled','queued','running','completed','failed','cancelled')),
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
INSERT INTO jobsmith_jobs_keyed (id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress, progress_history, logs, lease_token, lease_worker, lease_expires_at, cancel_requested, expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents, total_children, pending_children, run_if)
  SELECT id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress, progress_history, logs, lease_token, lease_worker, lease_expires_at, cancel_requested, expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents, total_children, pending_children, run_if FROM jobsmith_jobs;
-- Also drops its indexes and its triggers (jobsmith_jobs_attempt_ended, jobsmith_jobs_finished, jobsmith_jobs_parent_deleted).
DROP TABLE jobsmith_jobs;
ALTER TABLE jobsmith_jobs_keyed RENAME TO jobsmith_jobs;

-- Claim order within a queue (the id last, in place of seq); partial, so it holds only runnable rows.
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
    AND NOT (NEW.state IN ('completed', 'failed', 'cancelled') AND NEW.failed_hook IS NOT 'pending')
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
  WHEN NEW.state IN ('completed', 'failed', 'cancelled') AND NEW.failed_hook IS NOT 'pending'
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
