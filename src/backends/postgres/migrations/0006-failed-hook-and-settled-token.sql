-- A failed job's `failed` hook is recorded as pending in the same write as the failure,
-- and the lease stays with the worker that runs it: a worker that dies meanwhile leaves it
-- to be taken over once that lease lapses, like a running job.
ALTER TABLE :SCHEMA.jobs ADD COLUMN failed_hook text CHECK (failed_hook IN ('pending','done'));
CREATE INDEX jobs_hook_pending ON :SCHEMA.jobs (lease_expires_at) WHERE failed_hook = 'pending';
-- The lease token of the attempt whose outcome the row holds: the same outcome written
-- again after a lost reply is recognised as applied.
ALTER TABLE :SCHEMA.jobs ADD COLUMN settled_token text;

-- claim() as in migration 1, and it takes over pending hooks whose lease lapsed (the
-- worker died while the hook ran), ahead of queued jobs: they stay failed, and the worker
-- that claims them runs the hook alone.
CREATE OR REPLACE FUNCTION :SCHEMA.claim(p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint, p_now bigint)
RETURNS SETOF :SCHEMA.jobs LANGUAGE plpgsql AS $$
DECLARE
  v_queues text[];
  v_taken integer;
  v_hooks integer;
  v_ids uuid[];
BEGIN
  SELECT coalesce(array_agg(q), '{}') INTO v_queues FROM unnest(p_queues) AS q
    WHERE q NOT IN (SELECT name FROM :SCHEMA.queues WHERE paused);
  IF cardinality(v_queues) = 0 THEN RETURN; END IF;

  UPDATE :SCHEMA.jobs SET state = 'queued'
    WHERE id IN (SELECT id FROM :SCHEMA.jobs WHERE state = 'scheduled' AND run_at <= p_now
                 ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED);

  UPDATE :SCHEMA.jobs SET state = 'cancelled', finished_at = p_now, cancel_requested = false,
      expires_at = CASE WHEN keep_failed_ms IS NULL THEN NULL ELSE p_now + keep_failed_ms END,
      lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
    WHERE id IN (SELECT id FROM :SCHEMA.jobs WHERE state = 'running' AND lease_expires_at <= p_now AND cancel_requested
                 AND queue = ANY (v_queues) AND name = ANY (p_names) FOR UPDATE SKIP LOCKED);

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

-- settle_and_claim() as in migration 4, and:
-- - a `fail` with hook_pending stores failed_hook = 'pending' and keeps the lease, for the
--   worker that runs the hook; a `hook-done` under that lease stores 'done' and ends it;
-- - every outcome written stores its lease token in settled_token, and an outcome whose
--   token is already there (written before, its reply lost) is reported applied again,
--   changing nothing. Each applied element says whether it was written now (fresh).
CREATE OR REPLACE FUNCTION :SCHEMA.settle_and_claim(p_settlements jsonb, p_now bigint, p_bucket bigint,
    p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint,
    OUT applied json, OUT claimed json, OUT next_run_at bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_claimed integer;
BEGIN
  WITH s AS (
    SELECT * FROM jsonb_to_recordset(p_settlements) AS x(id uuid, token text, kind text, result jsonb, error jsonb,
      run_at bigint, count_attempt boolean, expires_at bigint, hook_pending boolean)
  ), locked AS (
    -- In id order, as renewing leases locks them (see migration 4).
    SELECT s.* FROM :SCHEMA.jobs j JOIN s ON j.id = s.id AND j.lease_token = s.token ORDER BY j.id FOR UPDATE OF j
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
    RETURNING j.id, j.queue, s.kind, j.run_at
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
    SELECT id, queue, kind, run_at, true AS fresh FROM done
    UNION ALL SELECT id, NULL, 'hook-done', NULL, false FROM hooked
    UNION ALL SELECT id, NULL, NULL, NULL, false FROM repeated
  )
  SELECT coalesce(json_agg(json_build_object('id', w.id, 'queue', w.queue, 'kind', w.kind, 'run_at', w.run_at, 'fresh', w.fresh)), '[]')
    INTO applied FROM written w LEFT JOIN (SELECT count(*) FROM notified) n ON true;

  IF p_limit IS NULL THEN RETURN; END IF;
  SELECT coalesce(json_agg(c), '[]'), count(*) INTO claimed, v_claimed
    FROM :SCHEMA.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM :SCHEMA.jobs j
      WHERE j.state = 'scheduled' AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
-- CREATE OR REPLACE drops a function's settings: the ones migrations 2, 4 and 5 gave them, again.
ALTER FUNCTION :SCHEMA.claim(text[], text[], integer, text, bigint, bigint)
  SET enable_sort = off SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET jit = off;
ALTER FUNCTION :SCHEMA.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint)
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off;
