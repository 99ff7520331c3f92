-- Every attempt that ended without completing its job (a failure, retried or final, a timeout,
-- a crash found by a takeover, a cancel), oldest first: null until the first such end.
-- Written by a BEFORE UPDATE trigger on the only changes that end an attempt that way, so
-- claim() and settle_and_claim() stay as migrations 5 and 6 left them (with their settings),
-- and a job that completes first time never writes it: the trigger's WHEN is false for a
-- completion, a claim and a release (a release counts no attempt), and the function does not run.
-- The newest 50 are kept (recordLimits.maxAttemptHistory); the number dropped is counted.
ALTER TABLE :SCHEMA.jobs ADD COLUMN attempt_history jsonb;
ALTER TABLE :SCHEMA.jobs ADD COLUMN attempt_history_dropped integer NOT NULL DEFAULT 0;

CREATE FUNCTION :SCHEMA.record_ended_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_crashed boolean := NEW.crashes > OLD.crashes;
  -- An outcome written by a settlement stores its lease token in settled_token; a crash, or a
  -- cancel ended by a takeover, writes none, and no error of its own.
  v_settled boolean := NEW.settled_token IS DISTINCT FROM OLD.settled_token;
  v_history jsonb := coalesce(OLD.attempt_history, '[]');
BEGIN
  IF jsonb_array_length(v_history) >= 50 THEN
    v_history := v_history - 0;
    NEW.attempt_history_dropped := OLD.attempt_history_dropped + 1;
  END IF;
  NEW.attempt_history := v_history || jsonb_build_array(jsonb_build_object(
    'attempt', OLD.attempts + 1,
    'workerId', OLD.lease_worker,
    'startedAt', OLD.started_at,
    -- A crash ended when its lease lapsed; a retried failure when its error was made.
    'endedAt', CASE WHEN v_crashed THEN OLD.lease_expires_at
                    WHEN NEW.state IN ('failed', 'cancelled') THEN NEW.finished_at
                    ELSE (NEW.error ->> 'at')::bigint END,
    'outcome', CASE WHEN v_crashed THEN 'crashed'
                    WHEN NEW.state = 'cancelled' THEN 'cancelled'
                    WHEN v_settled AND NEW.error ->> 'code' = 'TIMEOUT' THEN 'timed-out'
                    ELSE 'failed' END,
    'error', CASE WHEN v_settled THEN NEW.error END,
    'retryAt', CASE WHEN NEW.state IN ('scheduled', 'queued') AND NOT v_crashed THEN NEW.run_at END));
  RETURN NEW;
END $$;

CREATE TRIGGER jobs_attempt_ended BEFORE UPDATE OF state, crashes ON :SCHEMA.jobs FOR EACH ROW
  WHEN (OLD.state = 'running' AND (NEW.crashes > OLD.crashes OR NEW.state IN ('failed', 'cancelled')
    OR (NEW.state IN ('scheduled', 'queued') AND NEW.attempts > OLD.attempts)))
  EXECUTE FUNCTION :SCHEMA.record_ended_attempt();
