-- claim() runs the same six statements on every call. Under the default plan_cache_mode,
-- PostgreSQL planned them afresh on each call (their custom plans looked cheaper than the
-- generic one, whose LIMIT it cannot see): half of claim()'s time at concurrency 1. Each of
-- them has one right plan whatever the parameters, an index range in claim order that stops
-- at its LIMIT, or a primary-key lookup per id it writes, so the generic plan is made once
-- per connection and kept. A kept plan must not be one made while the table was small, when
-- reading it whole looks cheapest: sequential scans, hash joins and merge joins are ruled
-- out. settle_and_claim() keeps custom plans; its outcome join now always looks each
-- outcome's job up by primary key (see its WHERE and its settings below).
ALTER FUNCTION :SCHEMA.claim(text[], text[], integer, text, bigint, bigint)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;

CREATE OR REPLACE FUNCTION :SCHEMA.settle_and_claim(p_settlements jsonb, p_now bigint, p_bucket bigint,
    p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint,
    OUT applied json, OUT claimed json, OUT next_run_at bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_claimed integer;
BEGIN
  -- The queue's last-processed time is written at most once a second, so busy workers do
  -- not queue on one row; the finished counts go to this connection's shard.
  WITH s AS (
    SELECT * FROM jsonb_to_recordset(p_settlements) AS x(id uuid, token text, kind text, result jsonb, error jsonb,
      run_at bigint, count_attempt boolean, expires_at bigint)
  ), locked AS (
    -- The rows are locked in id order, as renewing leases locks them, whatever plan either
    -- statement gets: a worker's heartbeat and its settle of the same jobs, on two
    -- connections, must not each hold a row the other waits for. Only outcomes whose lease
    -- still holds go on.
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
      lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
    -- Only a running job holds a lease token, so the token fences the outcome. The state is
    -- checked again as an expression the planner cannot match to jobs_running's predicate:
    -- otherwise, expecting few running jobs, it may read all of them for every batch
    -- instead of looking each outcome's job up by id.
    FROM locked s WHERE j.id = s.id AND j.lease_token = s.token AND (j.state || '') = 'running'
    RETURNING j.id, j.queue, s.kind, j.run_at
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
  )
  SELECT coalesce(json_agg(json_build_object('id', done.id, 'queue', done.queue, 'kind', done.kind, 'run_at', done.run_at)), '[]')
    INTO applied FROM done LEFT JOIN (SELECT count(*) FROM notified) n ON true;

  IF p_limit IS NULL THEN RETURN; END IF;
  SELECT coalesce(json_agg(c), '[]'), count(*) INTO claimed, v_claimed
    FROM :SCHEMA.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM :SCHEMA.jobs j
      WHERE j.state = 'scheduled' AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
-- The join of a batch's outcomes to their rows must look each one up by primary key, not
-- read the table: jsonb_to_recordset() is estimated at 100 rows, so with a table of a few
-- thousand rows the planner chose to read it all (0.9 ms for one outcome instead of 0.2).
ALTER FUNCTION :SCHEMA.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint)
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
