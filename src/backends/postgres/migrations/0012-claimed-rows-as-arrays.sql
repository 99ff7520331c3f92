-- settle_and_claim() hands back each claimed job as a JSON array of its columns instead of a
-- JSON object (json_agg of the row). Turning a row into an object looks up every column's type
-- and output function again for each row (composite_to_json); json_build_array of named
-- columns resolves them once per call. On a stock server, in the loop of settle and claim a
-- worker runs (bench/diagnostics/pg-settle-claim-cost.ts, 20,000 jobs), the server's CPU per
-- job fell from 53-58 to 32-35 µs at batches of 50 and from 42-43 to 22-23 at batches of 200,
-- and the client's parse with it (no key names): issue #21, PostgreSQL at concurrency 50.
-- The order of the columns is `claimedColumns` in postgres-rows.ts (a test compares the two).
--
-- Otherwise settle_and_claim() as in migration 11.
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
  -- Each claimed row as an array of its columns, in the order of `claimedColumns`
  -- (postgres-rows.ts), not as an object (see above).
  SELECT coalesce(json_agg(json_build_array(
      c.seq, c.id, c.name, c.queue, c.state, c.payload, c.metadata, c.priority, c.key, c.attempts,
      c.max_attempts, c.crashes, c.backoff, c.timeout_ms, c.keep_completed_ms, c.keep_failed_ms,
      c.run_at, c.created_at, c.started_at, c.finished_at, c.result, c.error, c.progress,
      c.progress_history, c.logs, c.lease_token, c.lease_worker, c.lease_expires_at,
      c.lease_recovered, c.cancel_requested, c.expires_at, c.failed_hook, c.settled_token,
      c.attempt_history, c.attempt_history_dropped, c.flow_id, c.run_if, c.has_parents,
      c.total_children, c.pending_children)), '[]'), count(*) INTO claimed, v_claimed
    FROM :SCHEMA.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM :SCHEMA.jobs j
      WHERE j.state = 'scheduled' AND j.run_at < 8640000000000000 AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
-- CREATE OR REPLACE drops a function's settings: the ones migrations 4, 5, 6, 10 and 11 gave it, again.
ALTER FUNCTION :SCHEMA.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint)
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off;
