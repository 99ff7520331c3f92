-- Smaller finished rows (issue #21's disk floor: bytes on disk per completed job ≤ 2× plainjob's).
--
-- 1. Times relative to created_at. An absolute time in ms takes 6 bytes in a SQLite record;
--    the same time stored as ms after the job's created_at takes 0 (run_at of a job due when
--    enqueued: 0), 1–3 (a start or finish within seconds, minutes or hours) or 4 (an expiry a
--    day or weeks later). The four columns are renamed so that no statement reads an offset as
--    a time: run_after, started_after, finished_after and expires_after, each ms after
--    created_at (negative for a run_at set before the job was made). The view
--    jobsmith_finished_job adds created_at back, so every reader of finished jobs (get, list,
--    the check of a repeated outcome) still sees absolute times; the statements that read the
--    table itself (prune, retry, childrenOf) add it back too.
--
-- 2. settled_token keeps a 16-character prefix of the settling lease token: SQLite's lease
--    tokens are 16 random base64url characters, followed by `-<seq>` for a batch claim, so
--    the prefix is the claim's random part, and no other claim of the job has it. settledBy
--    and hookDoneBy match the whole token or its prefix. jobsmith_jobs keeps whole tokens.
--
-- Existing finished rows are converted in place (their freed bytes stay in their pages until
-- pruned). A file's auto_vacuum mode cannot change once it has tables: files made before this
-- release keep auto_vacuum=NONE (sqlite-connection.ts makes new files INCREMENTAL).

DROP VIEW jobsmith_any_job;
DROP VIEW jobsmith_finished_job;
DROP TRIGGER jobsmith_jobs_finished;

ALTER TABLE jobsmith_finished RENAME COLUMN run_at TO run_after;
ALTER TABLE jobsmith_finished RENAME COLUMN started_at TO started_after;
ALTER TABLE jobsmith_finished RENAME COLUMN finished_at TO finished_after;
ALTER TABLE jobsmith_finished RENAME COLUMN expires_at TO expires_after;

UPDATE jobsmith_finished SET
  run_after = run_after - created_at,
  started_after = started_after - created_at,
  finished_after = finished_after - created_at,
  expires_after = expires_after - created_at,
  settled_token = substr(settled_token, 1, 16);

-- Migration 8's view, with the times made absolute again.
CREATE VIEW jobsmith_finished_job AS
  SELECT NULL AS seq, id, name, queue, CASE state WHEN 1 THEN 'completed' WHEN 2 THEN 'failed' ELSE 'cancelled' END AS state, payload, coalesce(metadata, '{}') AS metadata, priority, key, attempts, max_attempts, crashes,
    backoff, timeout_ms, keep_completed_ms, keep_failed_ms, created_at + run_after AS run_at, created_at, created_at + started_after AS started_at,
    created_at + finished_after AS finished_at, result, error, progress,
    coalesce(progress_history, '[]') AS progress_history, coalesce(logs, '[]') AS logs, NULL AS lease_token, NULL AS lease_worker,
    NULL AS lease_expires_at, 0 AS cancel_requested, created_at + expires_after AS expires_at, failed_hook, settled_token, attempt_history, attempt_history_dropped,
    flow_id, has_parents, total_children, pending_children, run_if
  FROM jobsmith_finished;

CREATE VIEW jobsmith_any_job AS SELECT * FROM jobsmith_jobs UNION ALL SELECT * FROM jobsmith_finished_job;

-- Migration 8's move, writing times relative to created_at and the token's prefix.
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
      keep_completed_ms, keep_failed_ms, run_at - created_at, created_at, started_at - created_at, finished_at - created_at, nullif(result, 'null'), error, progress,
      nullif(progress_history, '[]'), nullif(logs, '[]'), expires_at - created_at, failed_hook, substr(settled_token, 1, 16), attempt_history, attempt_history_dropped,
      flow_id, has_parents, total_children, pending_children, run_if
    FROM jobsmith_jobs WHERE seq = NEW.seq;
  DELETE FROM jobsmith_jobs WHERE seq = NEW.seq;
END;
