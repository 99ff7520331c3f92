-- Finished jobs in a table of their own (issue #21): a job's row moves from jobsmith_jobs to
-- jobsmith_finished in the write that finishes it, so jobsmith_jobs holds only jobs still waiting
-- or running (and a failed one whose `failed` hook is pending), and its indexes stay small
-- however many finished jobs are kept. jobsmith_finished is keyed by the id with no other index
-- on jobs outside flows: a finished job costs its row and nothing else (bench/where-the-time-goes.md,
-- "Bytes on disk per completed job, by design").
--
-- The move is a trigger on the state (and on failed_hook: a failure whose hook was pending moves
-- once the hook is done), so the statements that finish a job stay UPDATEs with their RETURNING
-- (which reports the row as the UPDATE wrote it, before the trigger moved it).
--
-- A finished row has no lease, no cancel request and no seq (nothing claims it); metadata,
-- progress_history and logs are NULL for '{}', '[]' and '[]' (jobsmith_finished_job puts them back),
-- result NULL for JSON null (read back as null either way).
CREATE TABLE jobsmith_finished (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  queue TEXT NOT NULL,
  -- 1 completed, 2 failed, 3 cancelled: a small integer, not the text (issue #21's disk floor).
  state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),
  payload TEXT NOT NULL,
  metadata TEXT,
  priority INTEGER NOT NULL,
  key TEXT,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  crashes INTEGER NOT NULL DEFAULT 0,
  backoff TEXT,
  timeout_ms INTEGER,
  keep_completed_ms INTEGER,
  keep_failed_ms INTEGER,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER NOT NULL,
  result TEXT,
  error TEXT,
  progress TEXT,
  progress_history TEXT,
  logs TEXT,
  expires_at INTEGER,
  failed_hook TEXT CHECK (failed_hook IN ('done')),
  settled_token TEXT,
  attempt_history TEXT,
  attempt_history_dropped INTEGER NOT NULL DEFAULT 0,
  flow_id TEXT,
  has_parents INTEGER NOT NULL DEFAULT 0,
  total_children INTEGER NOT NULL DEFAULT 0,
  pending_children INTEGER NOT NULL DEFAULT 0,
  run_if TEXT
) WITHOUT ROWID;
-- Partial: jobs outside flows are not in it.
CREATE INDEX jobsmith_finished_flow ON jobsmith_finished (flow_id) WHERE flow_id IS NOT NULL;

-- Finished jobs counted per queue and state, for stats(), which no longer counts rows through a
-- (state, queue) index: kept by the triggers of jobsmith_finished below.
CREATE TABLE jobsmith_finished_counts (
  queue TEXT NOT NULL,
  state INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (queue, state)
) WITHOUT ROWID;

-- Steps outlive the move of their job's row: job_id becomes a plain column, and the cascade of
-- the foreign key is done by the triggers below, when a job's row goes from both tables.
CREATE TABLE jobsmith_steps_moved (
  seq INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL,
  name TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  record TEXT NOT NULL,
  UNIQUE (job_id, name)
);
INSERT INTO jobsmith_steps_moved (seq, job_id, name, started_at, record) SELECT seq, job_id, name, started_at, record FROM jobsmith_steps;
DROP TABLE jobsmith_steps;
ALTER TABLE jobsmith_steps_moved RENAME TO jobsmith_steps;

DROP TRIGGER jobsmith_jobs_parent_deleted;
DROP TRIGGER jobsmith_jobs_attempt_ended;

INSERT INTO jobsmith_finished
  SELECT id, name, queue, CASE state WHEN 'completed' THEN 1 WHEN 'failed' THEN 2 ELSE 3 END, payload, nullif(metadata, '{}'), priority, key, attempts, max_attempts, crashes, backoff, timeout_ms,
    keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, nullif(result, 'null'), error, progress, nullif(progress_history, '[]'),
    nullif(logs, '[]'), expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped, flow_id, has_parents,
    total_children, pending_children, run_if
  FROM jobsmith_jobs WHERE state IN ('completed','failed','cancelled') AND failed_hook IS NOT 'pending';
DELETE FROM jobsmith_jobs WHERE state IN ('completed','failed','cancelled') AND failed_hook IS NOT 'pending';
INSERT INTO jobsmith_finished_counts (queue, state, count) SELECT queue, state, count(*) FROM jobsmith_finished GROUP BY queue, state;

-- Read by pruning, which now reads jobsmith_finished; stats() counts through the counters.
DROP INDEX jobsmith_jobs_finished;
DROP INDEX jobsmith_jobs_expires;
DROP INDEX jobsmith_jobs_state;

-- A finished row with the columns of jobsmith_jobs, in their order and their types (the state as text) (a compound SELECT of both
-- takes its column names from jobsmith_jobs).
CREATE VIEW jobsmith_finished_job AS
  SELECT NULL AS seq, id, name, queue, CASE state WHEN 1 THEN 'completed' WHEN 2 THEN 'failed' ELSE 'cancelled' END AS state, payload, coalesce(metadata, '{}') AS metadata, priority, key, attempts, max_attempts, crashes,
    backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress,
    coalesce(progress_history, '[]') AS progress_history, coalesce(logs, '[]') AS logs, NULL AS lease_token, NULL AS lease_worker,
    NULL AS lease_expires_at, 0 AS cancel_requested, expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped,
    flow_id, has_parents, total_children, pending_children, run_if
  FROM jobsmith_finished;

-- Every job, wherever its row is: what get and the check of a repeated outcome read (a lookup
-- by id is pushed into both tables).
CREATE VIEW jobsmith_any_job AS SELECT * FROM jobsmith_jobs UNION ALL SELECT * FROM jobsmith_finished_job;

-- Migration 6's trigger, less the attempts that finish their job: the move below records those
-- before it moves the row (the order two triggers on one change fire in is not one to rely on).
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
  WHERE seq = NEW.seq;
END;

-- The move. Every statement that finishes a job sets finished_at (and a hook done sets
-- failed_hook), and no claim sets either: a trigger on those columns is not even called for the
-- rows a claim starts, where one on state would be, for each row. An attempt that ended without
-- completing is recorded first (migration 6's record); a completion records none, as before.
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
  WHERE seq = NEW.seq AND OLD.state = 'running' AND (NEW.crashes > OLD.crashes OR NEW.state IN ('failed', 'cancelled'));
  INSERT INTO jobsmith_finished
    SELECT id, name, queue, CASE state WHEN 'completed' THEN 1 WHEN 'failed' THEN 2 ELSE 3 END, payload, nullif(metadata, '{}'), priority, key, attempts, max_attempts, crashes, backoff, timeout_ms,
      keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, nullif(result, 'null'), error, progress,
      nullif(progress_history, '[]'), nullif(logs, '[]'), expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped,
      flow_id, has_parents, total_children, pending_children, run_if
    FROM jobsmith_jobs WHERE seq = NEW.seq;
  DELETE FROM jobsmith_jobs WHERE seq = NEW.seq;
END;

CREATE TRIGGER jobsmith_finished_counted AFTER INSERT ON jobsmith_finished
BEGIN
  INSERT INTO jobsmith_finished_counts (queue, state, count) VALUES (NEW.queue, NEW.state, 1)
    ON CONFLICT (queue, state) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER jobsmith_finished_uncounted AFTER DELETE ON jobsmith_finished
BEGIN
  UPDATE jobsmith_finished_counts SET count = count - 1 WHERE queue = OLD.queue AND state = OLD.state;
END;

-- A job deleted or pruned (its row gone from both tables; a row that moved is in the other one)
-- takes its steps with it, and, as a parent, its dependencies (migration 7's trigger, for both
-- tables): its children stay, and one no other job depends on any more has no parents. One
-- trigger a table: each is a call for every row a move deletes.
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
