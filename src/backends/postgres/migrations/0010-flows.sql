-- Capability flows (contract/flow-store.ts): jobs that wait for other jobs.
--
-- A flow job carries flow_id; one with children keeps how many (total_children) and how many
-- are not resolved yet (pending_children), and waits as `scheduled` with run_at at the
-- largest time a JavaScript Date holds (waitingForChildrenRunAt), so no claim ever promotes
-- it. has_parents says another job waits for it: the one flag the hot paths read, so a job
-- outside a flow pays nothing more. Defaults (false, 0) cost no table rewrite.
--
-- flow_height is the longest path down to a job without children (0 for those), so a child
-- is always lower than its parents. The writes of a flow lock its jobs' rows children first,
-- then by id, (flow_height, id): the order a settle takes them in (the job it ends, then its
-- parents), so a settle, a cancel of a waiting parent and a delete or prune of a parent do not
-- wait on each other in a cycle.
ALTER TABLE :SCHEMA.jobs
  ADD COLUMN flow_id text,
  ADD COLUMN run_if text CHECK (run_if IN ('always', 'any-child-failed')),
  ADD COLUMN has_parents boolean NOT NULL DEFAULT false,
  ADD COLUMN total_children integer NOT NULL DEFAULT 0,
  ADD COLUMN pending_children integer NOT NULL DEFAULT 0,
  ADD COLUMN flow_height integer NOT NULL DEFAULT 0;
-- flowProgress; partial, so jobs outside flows are not in it.
CREATE INDEX jobs_flow ON :SCHEMA.jobs (flow_id) WHERE flow_id IS NOT NULL;

-- One row per dependency: parent_id waits for child_id. outcome is null until the child
-- finishes, then the child's end as its parent counted it, written once. No foreign keys:
-- a row outlives its child (the parent still lists it, with state null), and is deleted with
-- its parent by the statements that delete jobs (sql/flows.sql, forgetParents), so deleting
-- or pruning a job outside a flow checks no other table. child_name is kept for the same reason.
CREATE TABLE :SCHEMA.flow_dependencies (
  parent_id uuid NOT NULL,
  child_id uuid NOT NULL,
  position integer NOT NULL,
  child_name text NOT NULL,
  policy text NOT NULL CHECK (policy IN ('fail', 'cancel', 'ignore', 'continue')),
  outcome text CHECK (outcome IN ('completed', 'failed', 'cancelled')),
  PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX flow_dependencies_child ON :SCHEMA.flow_dependencies (child_id);

-- Resolves the dependencies on jobs that just finished (or are being deleted before they
-- finished: counted as cancelled), by each one's policy, in the caller's transaction. A parent
-- failed or cancelled here finishes in turn: the next round of the loop resolves its own
-- parents, so a graph of any depth (a chain of maxFlowJobs) takes no stack, and no trigger
-- fires per level. Each round locks its parents, in (flow_height, id) order, before it touches
-- their dependencies: that row lock is what makes two children finishing at once on two
-- connections release their parent exactly once (the second waits for the first to commit and
-- sees the count it left), and a delete holding a parent never holds a dependency a settle waits for.
CREATE FUNCTION :SCHEMA.resolve_flow_parents(p_children uuid[], p_now bigint) RETURNS void
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
    WITH resolved AS (
      UPDATE :SCHEMA.flow_dependencies d
         SET outcome = CASE WHEN c.state IN ('completed', 'failed', 'cancelled') THEN c.state ELSE 'cancelled' END
        FROM :SCHEMA.jobs c
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
      -- Only a parent still waiting changes state.
      CONTINUE WHEN NOT FOUND OR p.state <> 'scheduled' OR p.run_at <> 8640000000000000;
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
        -- Finished for good, as a settle finishes a job (no failed hook: no handler of it ran).
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
-- It reads and writes by key only, like claim() and settle_and_claim() that call it: the same
-- plan rules and no JIT, also when it is called on its own (admin cancel, delete).
ALTER FUNCTION :SCHEMA.resolve_flow_parents(uuid[], bigint) SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET jit = off;

-- claim() as in migration 6, and a cancel-requested job whose lease lapsed, cancelled here,
-- resolves its parents in the same transaction. Jobs outside flows pay the has_parents flag.
CREATE OR REPLACE FUNCTION :SCHEMA.claim(p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint, p_now bigint)
RETURNS SETOF :SCHEMA.jobs LANGUAGE plpgsql AS $$
DECLARE
  v_queues text[];
  v_taken integer;
  v_hooks integer;
  v_ids uuid[];
  v_flow_children uuid[];
BEGIN
  SELECT coalesce(array_agg(q), '{}') INTO v_queues FROM unnest(p_queues) AS q
    WHERE q NOT IN (SELECT name FROM :SCHEMA.queues WHERE paused);
  IF cardinality(v_queues) = 0 THEN RETURN; END IF;

  UPDATE :SCHEMA.jobs SET state = 'queued'
    WHERE id IN (SELECT id FROM :SCHEMA.jobs WHERE state = 'scheduled' AND run_at <= p_now
                 ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED);

  -- A job ended here finishes: the parents of a flow job among them are resolved now.
  WITH ended AS (
    UPDATE :SCHEMA.jobs SET state = 'cancelled', finished_at = p_now, cancel_requested = false,
        expires_at = CASE WHEN keep_failed_ms IS NULL THEN NULL ELSE p_now + keep_failed_ms END,
        lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
      WHERE id IN (SELECT id FROM :SCHEMA.jobs WHERE state = 'running' AND lease_expires_at <= p_now AND cancel_requested
                   AND queue = ANY (v_queues) AND name = ANY (p_names) FOR UPDATE SKIP LOCKED)
      RETURNING id, has_parents
  )
  SELECT array_agg(id) FILTER (WHERE has_parents) INTO v_flow_children FROM ended;
  IF v_flow_children IS NOT NULL THEN PERFORM :SCHEMA.resolve_flow_parents(v_flow_children, p_now); END IF;

  RETURN QUERY
    UPDATE :SCHEMA.jobs SET crashes = crashes + 1, started_at = p_now, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = true
      WHERE id IN (SELECT id FROM :SCHEMA.jobs WHERE state = 'running' AND lease_expires_at <= p_now
                   AND queue = ANY (v_queues) AND name = ANY (p_names)
                   ORDER BY lease_expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
      RETURNING *;
  GET DIAGNOSTICS v_taken = ROW_COUNT;
  IF v_taken >= p_limit THEN RETURN; END IF;

  RETURN QUERY
    UPDATE :SCHEMA.jobs SET crashes = crashes + 1, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = true
      WHERE id IN (SELECT id FROM :SCHEMA.jobs WHERE failed_hook = 'pending' AND lease_expires_at <= p_now
                   AND queue = ANY (v_queues) AND name = ANY (p_names)
                   ORDER BY lease_expires_at LIMIT p_limit - v_taken FOR UPDATE SKIP LOCKED)
      RETURNING *;
  GET DIAGNOSTICS v_hooks = ROW_COUNT;
  v_taken := v_taken + v_hooks;
  IF v_taken >= p_limit THEN RETURN; END IF;

  -- One index range per queue (an ANY over queues would lose the index order), merged.
  SELECT coalesce(array_agg(c.id ORDER BY c.priority DESC, c.run_at, c.seq), '{}') INTO v_ids FROM (
    SELECT r.id, r.priority, r.run_at, r.seq FROM unnest(v_queues) AS q(name)
    CROSS JOIN LATERAL (
      SELECT j.id, j.priority, j.run_at, j.seq FROM :SCHEMA.jobs j
      WHERE j.state = 'queued' AND j.queue = q.name AND j.name = ANY (p_names)
      ORDER BY j.priority DESC, j.run_at, j.seq LIMIT p_limit - v_taken FOR UPDATE SKIP LOCKED
    ) r
    ORDER BY r.priority DESC, r.run_at, r.seq LIMIT p_limit - v_taken
  ) c;
  RETURN QUERY
    UPDATE :SCHEMA.jobs SET state = 'running', started_at = p_now, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = false
      WHERE id = ANY (v_ids)
      RETURNING *;
END $$;


-- settle_and_claim() as in migration 6, and:
-- - its outcomes' rows are locked in (flow_height, id) order, as renewLeases (sql/queue.sql)
--   now locks them: the same id order outside flows;
-- - a job that finishes (complete, fail, with or without its failed hook pending, cancel)
--   and has parents resolves them before the claim, in the same transaction;
-- - next_run_at leaves out parents waiting for their children: never due, they are not the
--   next delayed job, and the index range stops before them.
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
    -- In (flow_height, id) order, as renewing leases locks them (see migration 4): id order for
    -- jobs outside flows (height 0), and a flow job's child before its parent, which a settle
    -- of the child locks next.
    SELECT s.* FROM :SCHEMA.jobs j JOIN s ON j.id = s.id AND j.lease_token = s.token ORDER BY j.flow_height, j.id FOR UPDATE OF j
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
    -- The state is checked as an expression the planner cannot match to a partial index (see migration 4).
    FROM locked s WHERE j.id = s.id AND j.lease_token = s.token AND (j.state || '') = 'running' AND s.kind <> 'hook-done'
    RETURNING j.id, j.queue, s.kind, j.run_at, j.has_parents
  ), hooked AS (
    UPDATE :SCHEMA.jobs j SET failed_hook = 'done', settled_token = s.token, lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
    FROM locked s WHERE j.id = s.id AND j.lease_token = s.token AND (j.state || '') = 'failed' AND j.failed_hook = 'pending'
      AND s.kind = 'hook-done'
    RETURNING j.id
  ), repeated AS (
    -- Outcomes already stored under this very lease (the statement sees the rows as they were
    -- before it). A hook-done counts only once the hook is done: while it is pending, the
    -- failure's token is the stored one, and a dead worker's lease must not end another's hook.
    SELECT s.id FROM s JOIN :SCHEMA.jobs j ON j.id = s.id AND j.settled_token = s.token
     WHERE s.kind <> 'hook-done' OR j.failed_hook = 'done'
  ), touched AS (
    UPDATE :SCHEMA.queues q SET last_processed_at = p_now
      FROM (SELECT DISTINCT queue FROM done WHERE kind <> 'retry') d
     WHERE q.name = d.queue AND (q.last_processed_at IS NULL OR q.last_processed_at < p_now - 1000)
  ), counted AS (
    INSERT INTO :SCHEMA.counts (queue, bucket, shard, completed, failed)
    SELECT queue, p_bucket, pg_backend_pid(), count(*) FILTER (WHERE kind = 'complete'), count(*) FILTER (WHERE kind = 'fail')
      FROM done WHERE kind IN ('complete', 'fail') GROUP BY queue
    ON CONFLICT (queue, bucket, shard) DO UPDATE SET completed = counts.completed + excluded.completed,
      failed = counts.failed + excluded.failed
  ), notified AS (
    -- A retry that is runnable now wakes idle workers, as an enqueue does.
    SELECT pg_notify(':CHANNEL', 'q:' || queue) FROM (SELECT DISTINCT queue FROM done WHERE kind = 'retry' AND run_at <= p_now) r
  ), written AS (
    SELECT id, queue, kind, run_at, true AS fresh, has_parents AND kind <> 'retry' AS flow_child_finished FROM done
    UNION ALL SELECT id, NULL, 'hook-done', NULL, false, false FROM hooked
    UNION ALL SELECT id, NULL, NULL, NULL, false, false FROM repeated
  )
  SELECT coalesce(json_agg(json_build_object('id', w.id, 'queue', w.queue, 'kind', w.kind, 'run_at', w.run_at, 'fresh', w.fresh)), '[]'),
      array_agg(w.id) FILTER (WHERE w.flow_child_finished)
    INTO applied, v_flow_children FROM written w LEFT JOIN (SELECT count(*) FROM notified) n ON true;
  -- Only flow jobs pay for flows: the flag has_parents, read by the write above. Their parents
  -- are resolved in this same transaction, before the claim, which may take a parent released now.
  IF v_flow_children IS NOT NULL THEN PERFORM :SCHEMA.resolve_flow_parents(v_flow_children, p_now); END IF;

  IF p_limit IS NULL THEN RETURN; END IF;
  SELECT coalesce(json_agg(c), '[]'), count(*) INTO claimed, v_claimed
    FROM :SCHEMA.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM :SCHEMA.jobs j
      WHERE j.state = 'scheduled' AND j.run_at < 8640000000000000 AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
-- CREATE OR REPLACE drops a function's settings: the ones migrations 2, 4, 5 and 6 gave them, again.
ALTER FUNCTION :SCHEMA.claim(text[], text[], integer, text, bigint, bigint)
  SET enable_sort = off SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET jit = off;
ALTER FUNCTION :SCHEMA.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint)
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off;
