-- Finished jobs in a table of their own (as SQLite's migration 8). Every claim and every
-- completion rewrote the job's row in `jobs`, and no update could be HOT (each changes a column
-- an index reads: state, lease_expires_at, finished_at), so each wrote an entry into every
-- index whose predicate the new row met: jobs_state (state, queue) twice a job, jobs_finished
-- and jobs_expires once. `finished_jobs` now takes every completed, failed or cancelled job;
-- `jobs` keeps the jobs waiting or running, and a failure whose `failed` hook is pending (it
-- holds a lease until the hook has run). `jobs` loses jobs_state, jobs_finished and
-- jobs_expires; `finished_jobs` has the primary key, the expiry (written once, as the row
-- arrives: the worker prunes expired jobs once a minute, and reading 200,000 kept rows for it
-- took 0.2-0.45 s against 5-8 ms by the index) and a partial index for flow jobs. Stats count
-- finished jobs, and a prune by finish time finds them, by reading the table (see README).
--
-- The same columns in the same order (LIKE), so a row moves with SELECT * and the view
-- all_jobs reads both tables as one: `seq` is a plain column there, kept from the active row.
CREATE TABLE :SCHEMA.finished_jobs (LIKE :SCHEMA.jobs INCLUDING DEFAULTS);
ALTER TABLE :SCHEMA.finished_jobs ADD PRIMARY KEY (id);
CREATE INDEX finished_jobs_flow ON :SCHEMA.finished_jobs (flow_id) WHERE flow_id IS NOT NULL;
CREATE INDEX finished_jobs_expires ON :SCHEMA.finished_jobs (expires_at) WHERE expires_at IS NOT NULL;

-- The steps' foreign key goes first: its ON DELETE CASCADE would take the moved jobs' steps
-- (see finished_jobs_steps below).
ALTER TABLE :SCHEMA.steps DROP CONSTRAINT steps_job_id_fkey;
INSERT INTO :SCHEMA.finished_jobs SELECT * FROM :SCHEMA.jobs
  WHERE state IN ('completed', 'failed', 'cancelled') AND failed_hook IS DISTINCT FROM 'pending';
DELETE FROM :SCHEMA.jobs WHERE state IN ('completed', 'failed', 'cancelled') AND failed_hook IS DISTINCT FROM 'pending';

DROP INDEX :SCHEMA.jobs_state;
DROP INDEX :SCHEMA.jobs_finished;
DROP INDEX :SCHEMA.jobs_expires;

-- Every job, active or finished: a lookup by id is two primary-key probes, and an ORDER BY id
-- with a LIMIT merges the two primary keys (Merge Append) and stops at the limit.
CREATE VIEW :SCHEMA.all_jobs AS SELECT * FROM :SCHEMA.jobs UNION ALL SELECT * FROM :SCHEMA.finished_jobs;

-- A job's steps stay while it moves: the foreign key's ON DELETE CASCADE would have fired on
-- the move and taken a finished job's steps. Deleting a finished job (prune, delete) deletes
-- its steps by this trigger, unless the row went back to `jobs` (a retry inserts it there
-- first); deleting an active job deletes them in its own statement (deleteJob, admin.sql).
-- Per statement, so a prune of many jobs is one more statement, and completions (which delete
-- from `jobs`, not from here) do not call it.
CREATE FUNCTION :SCHEMA.delete_finished_steps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM :SCHEMA.steps s WHERE s.job_id IN (SELECT id FROM gone)
    AND NOT EXISTS (SELECT 1 FROM :SCHEMA.jobs j WHERE j.id = s.job_id);
  RETURN NULL;
END $$;
CREATE TRIGGER finished_jobs_steps AFTER DELETE ON :SCHEMA.finished_jobs REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION :SCHEMA.delete_finished_steps();

-- Completions, the hot path, move their rows in settle_and_claim() below (DELETE … RETURNING,
-- then INSERT). Every other finish stays the UPDATE it was (fail, cancel, a takeover that
-- cancels, a waiting parent failed or cancelled by its children, an admin cancel, a hook done),
-- and this trigger moves the row once the statement is done, as the UPDATE left it (after
-- migration 9's BEFORE trigger has recorded the attempt). UPDATE OF finished_at, failed_hook:
-- every finishing write sets finished_at, a hook done sets failed_hook, and no claim sets
-- either, so the trigger is not even considered for the rows a claim starts.
CREATE FUNCTION :SCHEMA.move_finished_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO :SCHEMA.finished_jobs SELECT NEW.*;
  DELETE FROM :SCHEMA.jobs WHERE id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_move_finished AFTER UPDATE OF finished_at, failed_hook ON :SCHEMA.jobs FOR EACH ROW
  WHEN (NEW.state IN ('completed', 'failed', 'cancelled') AND NEW.failed_hook IS DISTINCT FROM 'pending')
  EXECUTE FUNCTION :SCHEMA.move_finished_job();

-- resolve_flow_parents() as in migration 10, and: a child that finished is read from either
-- table (all_jobs); a parent that finished already is locked and counted down in finished_jobs.
CREATE OR REPLACE FUNCTION :SCHEMA.resolve_flow_parents(p_children uuid[], p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_children uuid[] := p_children;
  v_finished uuid[];
  v_parents uuid[];
  v_child_ids uuid[];
  v_names text[];
  v_policies text[];
  v_outcomes text[];
  v_state text;
  v_error jsonb;
  p record;
BEGIN
  WHILE cardinality(v_children) > 0 LOOP
    PERFORM 1 FROM :SCHEMA.jobs w
      WHERE w.id IN (SELECT d.parent_id FROM :SCHEMA.flow_dependencies d WHERE d.child_id = ANY (v_children) AND d.outcome IS NULL)
      ORDER BY w.flow_height, w.id FOR UPDATE OF w;
    -- A parent that finished already (failed or cancelled by another child) is in finished_jobs.
    PERFORM 1 FROM :SCHEMA.finished_jobs w
      WHERE w.id IN (SELECT d.parent_id FROM :SCHEMA.flow_dependencies d WHERE d.child_id = ANY (v_children) AND d.outcome IS NULL)
      ORDER BY w.flow_height, w.id FOR UPDATE OF w;
    WITH resolved AS (
      UPDATE :SCHEMA.flow_dependencies d
         SET outcome = CASE WHEN c.state IN ('completed', 'failed', 'cancelled') THEN c.state ELSE 'cancelled' END
        FROM :SCHEMA.all_jobs c
       WHERE c.id = ANY (v_children) AND d.child_id = c.id AND d.outcome IS NULL
      RETURNING d.parent_id, d.child_id, d.child_name, d.policy, d.outcome
    )
    SELECT array_agg(parent_id ORDER BY parent_id, child_id), array_agg(child_id ORDER BY parent_id, child_id),
           array_agg(child_name ORDER BY parent_id, child_id), array_agg(policy ORDER BY parent_id, child_id),
           array_agg(outcome ORDER BY parent_id, child_id)
      INTO v_parents, v_child_ids, v_names, v_policies, v_outcomes FROM resolved;
    v_finished := '{}';
    FOR i IN 1 .. coalesce(cardinality(v_parents), 0) LOOP
      -- Every parent's counter goes down, whatever its state (its row is locked already).
      UPDATE :SCHEMA.jobs SET pending_children = pending_children - 1 WHERE id = v_parents[i]
        RETURNING id, queue, state, run_at, pending_children, run_if, keep_failed_ms, has_parents INTO p;
      IF NOT FOUND THEN
        UPDATE :SCHEMA.finished_jobs SET pending_children = pending_children - 1 WHERE id = v_parents[i];
        CONTINUE;
      END IF;
      -- Only a parent still waiting changes state.
      CONTINUE WHEN p.state <> 'scheduled' OR p.run_at <> 8640000000000000;
      v_state := NULL;
      IF v_outcomes[i] = 'completed' OR v_policies[i] = 'ignore' THEN
        CONTINUE WHEN p.pending_children > 0;
        IF p.run_if = 'any-child-failed'
           AND NOT EXISTS (SELECT 1 FROM :SCHEMA.flow_dependencies d WHERE d.parent_id = p.id AND d.outcome <> 'completed') THEN
          v_state := 'cancelled';
          v_error := jsonb_build_object('name', 'FlowConditionUnmetError', 'code', 'FLOW_CONDITION_UNMET',
            'message', 'Every child completed, and this job runs only when one did not.', 'at', p_now, 'attempt', 0);
        END IF;
      ELSIF v_policies[i] <> 'continue' THEN
        v_state := CASE v_policies[i] WHEN 'fail' THEN 'failed' ELSE 'cancelled' END;
        v_error := jsonb_build_object('name', 'ChildFailedError', 'code', 'CHILD_FAILED',
          'message', 'Child job ' || v_child_ids[i] || ' (' || v_names[i] || ') '
            || CASE v_outcomes[i] WHEN 'failed' THEN 'failed.' ELSE 'was cancelled.' END,
          'at', p_now, 'attempt', 0);
      END IF;
      IF v_state IS NULL THEN
        -- Released: runnable now. An UPDATE fires no insert trigger, so idle workers are woken here.
        UPDATE :SCHEMA.jobs SET state = 'queued', run_at = p_now WHERE id = p.id;
        PERFORM pg_notify(':CHANNEL', 'q:' || p.queue);
      ELSE
        -- Finished for good, as a settle finishes a job (no failed hook: no handler of it ran);
        -- jobs_move_finished moves it to finished_jobs.
        UPDATE :SCHEMA.jobs SET state = v_state, error = v_error, finished_at = p_now, cancel_requested = false,
            expires_at = CASE WHEN keep_failed_ms IS NULL THEN NULL ELSE p_now + keep_failed_ms END
          WHERE id = p.id;
        UPDATE :SCHEMA.queues SET last_processed_at = p_now
          WHERE name = p.queue AND (last_processed_at IS NULL OR last_processed_at < p_now - 1000);
        IF v_state = 'failed' THEN
          INSERT INTO :SCHEMA.counts (queue, bucket, shard, completed, failed)
            VALUES (p.queue, p_now / 10000 * 10000, pg_backend_pid(), 0, 1)
            ON CONFLICT (queue, bucket, shard) DO UPDATE SET failed = counts.failed + 1;
        END IF;
        IF p.has_parents THEN v_finished := v_finished || p.id; END IF;
      END IF;
    END LOOP;
    v_children := v_finished;
  END LOOP;
END $$;
ALTER FUNCTION :SCHEMA.resolve_flow_parents(uuid[], bigint) SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET jit = off;

-- settle_and_claim() as in migration 10, and a completion moves its job to finished_jobs in
-- the same statement: a DELETE from jobs and an INSERT, instead of an UPDATE that wrote the new
-- row and an entry in every index. Other outcomes are the UPDATE they were (the trigger above
-- moves those that finish). claim() is unchanged: its cancel of a lapsed cancel-requested job
-- sets finished_at, and the trigger moves it.
CREATE OR REPLACE FUNCTION :SCHEMA.settle_and_claim(p_settlements jsonb, p_now bigint, p_bucket bigint,
    p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint,
    OUT applied json, OUT claimed json, OUT next_run_at bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_claimed integer;
  v_flow_children uuid[];
BEGIN
  WITH s AS (
    SELECT * FROM jsonb_to_recordset(p_settlements) AS x(id uuid, token text, kind text, result jsonb, error jsonb,
      run_at bigint, count_attempt boolean, expires_at bigint, hook_pending boolean)
  ), locked AS (
    -- In (flow_height, id) order, as renewing leases locks them (migrations 4 and 10).
    SELECT s.* FROM :SCHEMA.jobs j JOIN s ON j.id = s.id AND j.lease_token = s.token ORDER BY j.flow_height, j.id FOR UPDATE OF j
  ), moved AS (
    -- Completions move: deleted here (no index entry written), inserted into finished_jobs next.
    DELETE FROM :SCHEMA.jobs j USING locked s
     WHERE j.id = s.id AND j.lease_token = s.token AND (j.state || '') = 'running' AND s.kind = 'complete'
    RETURNING j.*, s.token AS s_token, s.result AS s_result, s.count_attempt AS s_count_attempt, s.expires_at AS s_expires_at
  ), kept AS (
    INSERT INTO :SCHEMA.finished_jobs (seq, id, name, queue, state, payload, metadata, priority, key, attempts, max_attempts, crashes,
        backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, finished_at, result, error, progress,
        progress_history, logs, lease_token, lease_worker, lease_expires_at, lease_recovered, cancel_requested, expires_at, failed_hook,
        settled_token, attempt_history, attempt_history_dropped, flow_id, run_if, has_parents, total_children, pending_children, flow_height)
    SELECT seq, id, name, queue, 'completed', payload, metadata, priority, key, attempts + CASE WHEN s_count_attempt THEN 1 ELSE 0 END,
        max_attempts, crashes, backoff, timeout_ms, keep_completed_ms, keep_failed_ms, run_at, created_at, started_at, p_now, s_result,
        error, progress, progress_history, logs, NULL, NULL, NULL, lease_recovered, false, s_expires_at, NULL,
        s_token, attempt_history, attempt_history_dropped, flow_id, run_if, has_parents, total_children, pending_children, flow_height
      FROM moved
  ), done AS (
    UPDATE :SCHEMA.jobs j SET
      state = CASE s.kind WHEN 'complete' THEN 'completed' WHEN 'fail' THEN 'failed' WHEN 'cancel' THEN 'cancelled'
                          ELSE CASE WHEN s.run_at > p_now THEN 'scheduled' ELSE 'queued' END END,
      attempts = j.attempts + CASE WHEN s.count_attempt THEN 1 ELSE 0 END,
      result = CASE WHEN s.kind = 'complete' THEN s.result ELSE j.result END,
      error = coalesce(s.error, j.error),
      run_at = coalesce(s.run_at, j.run_at),
      finished_at = CASE WHEN s.kind = 'retry' THEN j.finished_at ELSE p_now END,
      expires_at = CASE WHEN s.kind = 'retry' THEN j.expires_at ELSE s.expires_at END,
      cancel_requested = CASE WHEN s.kind = 'retry' THEN j.cancel_requested ELSE false END,
      failed_hook = CASE WHEN s.kind = 'fail' AND s.hook_pending THEN 'pending' END,
      settled_token = s.token,
      lease_token = CASE WHEN s.kind = 'fail' AND s.hook_pending THEN j.lease_token END,
      lease_worker = CASE WHEN s.kind = 'fail' AND s.hook_pending THEN j.lease_worker END,
      lease_expires_at = CASE WHEN s.kind = 'fail' AND s.hook_pending THEN j.lease_expires_at END
    FROM locked s WHERE j.id = s.id AND j.lease_token = s.token AND (j.state || '') = 'running' AND s.kind NOT IN ('hook-done', 'complete')
    RETURNING j.id, j.queue, s.kind, j.run_at, j.has_parents
  ), ended AS (
    SELECT id, queue, kind, run_at, has_parents FROM done
    UNION ALL SELECT id, queue, 'complete', run_at, has_parents FROM moved
  ), hooked AS (
    UPDATE :SCHEMA.jobs j SET failed_hook = 'done', settled_token = s.token, lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
    FROM locked s WHERE j.id = s.id AND j.lease_token = s.token AND (j.state || '') = 'failed' AND j.failed_hook = 'pending'
      AND s.kind = 'hook-done'
    RETURNING j.id
  ), repeated AS (
    -- As in migration 6; a completion or a failure written before is in finished_jobs now.
    SELECT s.id FROM s JOIN (SELECT id, settled_token, failed_hook FROM :SCHEMA.jobs
                             UNION ALL SELECT id, settled_token, failed_hook FROM :SCHEMA.finished_jobs) j ON j.id = s.id AND j.settled_token = s.token
     WHERE s.kind <> 'hook-done' OR j.failed_hook = 'done'
  ), touched AS (
    UPDATE :SCHEMA.queues q SET last_processed_at = p_now
      FROM (SELECT DISTINCT queue FROM ended WHERE kind <> 'retry') d
     WHERE q.name = d.queue AND (q.last_processed_at IS NULL OR q.last_processed_at < p_now - 1000)
  ), counted AS (
    INSERT INTO :SCHEMA.counts (queue, bucket, shard, completed, failed)
    SELECT queue, p_bucket, pg_backend_pid(), count(*) FILTER (WHERE kind = 'complete'), count(*) FILTER (WHERE kind = 'fail')
      FROM ended WHERE kind IN ('complete', 'fail') GROUP BY queue
    ON CONFLICT (queue, bucket, shard) DO UPDATE SET completed = counts.completed + excluded.completed,
      failed = counts.failed + excluded.failed
  ), notified AS (
    -- A retry that is runnable now wakes idle workers, as an enqueue does.
    SELECT pg_notify(':CHANNEL', 'q:' || queue) FROM (SELECT DISTINCT queue FROM done WHERE kind = 'retry' AND run_at <= p_now) r
  ), written AS (
    SELECT id, queue, kind, run_at, true AS fresh, has_parents AND kind <> 'retry' AS flow_child_finished FROM ended
    UNION ALL SELECT id, NULL, 'hook-done', NULL, false, false FROM hooked
    UNION ALL SELECT id, NULL, NULL, NULL, false, false FROM repeated
  )
  SELECT coalesce(json_agg(json_build_object('id', w.id, 'queue', w.queue, 'kind', w.kind, 'run_at', w.run_at, 'fresh', w.fresh)), '[]'),
      array_agg(w.id) FILTER (WHERE w.flow_child_finished)
    INTO applied, v_flow_children FROM written w LEFT JOIN (SELECT count(*) FROM notified) n ON true;
  -- The parents of flow jobs that finished, in this same transaction, before the claim.
  IF v_flow_children IS NOT NULL THEN PERFORM :SCHEMA.resolve_flow_parents(v_flow_children, p_now); END IF;

  IF p_limit IS NULL THEN RETURN; END IF;
  SELECT coalesce(json_agg(c), '[]'), count(*) INTO claimed, v_claimed
    FROM :SCHEMA.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM :SCHEMA.jobs j
      WHERE j.state = 'scheduled' AND j.run_at < 8640000000000000 AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
-- CREATE OR REPLACE drops a function's settings: the ones migrations 4, 5, 6 and 10 gave it, again.
ALTER FUNCTION :SCHEMA.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint)
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off;
