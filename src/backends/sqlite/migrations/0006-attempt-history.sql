-- Every attempt that ended without completing its job (a failure, retried or final, a timeout,
-- a crash found by a takeover, a cancel), oldest first: JSON, null until the first such end.
-- Written by a trigger on the only changes that end an attempt that way, so the statements that
-- settle and claim stay as they are, and a job that completes first time never writes it: the
-- trigger's WHEN is false for a completion, a claim and a release (a release counts no attempt).
-- The newest 50 are kept (recordLimits.maxAttemptHistory); the number dropped is counted.
ALTER TABLE jobsmith_jobs ADD COLUMN attempt_history TEXT;
ALTER TABLE jobsmith_jobs ADD COLUMN attempt_history_dropped INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER jobsmith_jobs_attempt_ended AFTER UPDATE OF state, crashes ON jobsmith_jobs
  WHEN OLD.state = 'running' AND (NEW.crashes > OLD.crashes OR NEW.state IN ('failed', 'cancelled')
    OR (NEW.state IN ('scheduled', 'queued') AND NEW.attempts > OLD.attempts))
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
