/**
 * Numbered plain-SQL migrations for one schema. `S` stands for the quoted schema name.
 * They are applied at open (unless `migrate: false`) inside one transaction holding an
 * advisory lock, so ten processes starting at once apply each exactly once. Never edit
 * a released migration: add the next number.
 *
 * Times are bigint milliseconds since the epoch, taken from the Jobsmith clock rather
 * than `now()`, so a fake clock drives delays and leases in tests exactly as on SQLite.
 */
export function postgresMigrations(S: string, channel: string): ReadonlyArray<{ version: number; sql: string }> {
  return [
    {
      version: 1,
      sql: `
CREATE TABLE ${S}.jobs (
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id uuid PRIMARY KEY,
  name text NOT NULL,
  queue text NOT NULL,
  state text NOT NULL CHECK (state IN ('scheduled','queued','running','completed','failed','cancelled')),
  payload jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  priority integer NOT NULL DEFAULT 0,
  key text,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  crashes integer NOT NULL DEFAULT 0,
  backoff jsonb,
  timeout_ms bigint,
  keep_completed_ms bigint,
  keep_failed_ms bigint,
  run_at bigint NOT NULL,
  created_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint,
  result jsonb,
  error jsonb,
  progress jsonb,
  progress_history jsonb NOT NULL DEFAULT '[]',
  logs jsonb NOT NULL DEFAULT '[]',
  lease_token text,
  lease_worker text,
  lease_expires_at bigint,
  lease_recovered boolean NOT NULL DEFAULT false,
  cancel_requested boolean NOT NULL DEFAULT false,
  expires_at bigint
);
-- Claim order within a queue; partial, so it holds only runnable rows and stays small
-- however many finished jobs the table keeps.
CREATE INDEX jobs_ready ON ${S}.jobs (queue, priority DESC, run_at, seq) WHERE state = 'queued';
CREATE INDEX jobs_scheduled ON ${S}.jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON ${S}.jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_key ON ${S}.jobs (name, key) WHERE key IS NOT NULL AND state IN ('scheduled','queued','running');
CREATE INDEX jobs_expires ON ${S}.jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX jobs_finished ON ${S}.jobs (state, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_state ON ${S}.jobs (state, queue);

CREATE TABLE ${S}.queues (
  name text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  last_processed_at bigint
);

-- Finished-job counts per queue in 10-second buckets, for stats that outlive pruning.
-- Sharded by connection, so workers settling at once do not queue on one counter row.
CREATE TABLE ${S}.counts (
  queue text NOT NULL,
  bucket bigint NOT NULL,
  shard integer NOT NULL,
  completed integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, bucket, shard)
);

CREATE TABLE ${S}.schedules (
  id text PRIMARY KEY,
  spec jsonb NOT NULL,
  spec_text text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  next_run_at bigint,
  last_run_at bigint,
  last_job_id uuid,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);

-- Idle workers LISTEN on one channel per schema and wake when jobs become runnable.
-- One NOTIFY per statement, not per row, so a bulk enqueue costs one message per queue.
CREATE FUNCTION ${S}.notify_runnable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${channel}', 'q:' || queue) FROM (SELECT DISTINCT queue FROM new_rows WHERE state = 'queued') AS q;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON ${S}.jobs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ${S}.notify_runnable();

-- Claims up to p_limit runnable jobs in one round trip: promotes due delayed jobs, ends
-- crashed jobs whose cancel was asked for, takes over expired leases (a crash, counted in
-- crashes), then takes queued jobs by priority, run time and enqueue order, merged across
-- the given queues. SKIP LOCKED: concurrent claimers never wait on or share a row.
CREATE FUNCTION ${S}.claim(p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint, p_now bigint)
RETURNS SETOF ${S}.jobs LANGUAGE plpgsql AS $$
DECLARE
  v_queues text[];
  v_taken integer;
  v_ids uuid[];
BEGIN
  SELECT coalesce(array_agg(q), '{}') INTO v_queues FROM unnest(p_queues) AS q
    WHERE q NOT IN (SELECT name FROM ${S}.queues WHERE paused);
  IF cardinality(v_queues) = 0 THEN RETURN; END IF;

  UPDATE ${S}.jobs SET state = 'queued'
    WHERE id IN (SELECT id FROM ${S}.jobs WHERE state = 'scheduled' AND run_at <= p_now
                 ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED);

  UPDATE ${S}.jobs SET state = 'cancelled', finished_at = p_now, cancel_requested = false,
      expires_at = CASE WHEN keep_failed_ms IS NULL THEN NULL ELSE p_now + keep_failed_ms END,
      lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
    WHERE id IN (SELECT id FROM ${S}.jobs WHERE state = 'running' AND lease_expires_at <= p_now AND cancel_requested
                 AND queue = ANY (v_queues) AND name = ANY (p_names) FOR UPDATE SKIP LOCKED);

  RETURN QUERY
    UPDATE ${S}.jobs SET crashes = crashes + 1, started_at = p_now, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = true
      WHERE id IN (SELECT id FROM ${S}.jobs WHERE state = 'running' AND lease_expires_at <= p_now
                   AND queue = ANY (v_queues) AND name = ANY (p_names)
                   ORDER BY lease_expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
      RETURNING *;
  GET DIAGNOSTICS v_taken = ROW_COUNT;
  IF v_taken >= p_limit THEN RETURN; END IF;

  -- One index range per queue (an ANY over queues would lose the index order), merged.
  SELECT coalesce(array_agg(c.id ORDER BY c.priority DESC, c.run_at, c.seq), '{}') INTO v_ids FROM (
    SELECT r.id, r.priority, r.run_at, r.seq FROM unnest(v_queues) AS q(name)
    CROSS JOIN LATERAL (
      SELECT j.id, j.priority, j.run_at, j.seq FROM ${S}.jobs j
      WHERE j.state = 'queued' AND j.queue = q.name AND j.name = ANY (p_names)
      ORDER BY j.priority DESC, j.run_at, j.seq LIMIT p_limit - v_taken FOR UPDATE SKIP LOCKED
    ) r
    ORDER BY r.priority DESC, r.run_at, r.seq LIMIT p_limit - v_taken
  ) c;
  RETURN QUERY
    UPDATE ${S}.jobs SET state = 'running', started_at = p_now, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = false
      WHERE id = ANY (v_ids)
      RETURNING *;
END $$;
`,
    },
    {
      version: 2,
      sql: `
-- Right after a bulk enqueue the table has no statistics yet (autoanalyze runs up to a
-- minute later), or statistics from when the queue was nearly empty. The planner then
-- expects about one queued row per queue and reads the head of a queue through jobs_state
-- (state, queue) followed by a sort of every queued row, not through jobs_ready, whose
-- order is the claim order: each claim costs O(backlog), so throughput collapsed as the
-- backlog grew (40 ms per claim at 50,000 queued instead of 0.5 ms). Every ORDER BY in
-- claim() matches an index (jobs_ready, jobs_running, jobs_scheduled) and stops at a
-- LIMIT, so forbidding sorts there, whatever the statistics say, always picks the index
-- range; the one real sort left, merging the per-queue heads, is at most p_limit rows.
ALTER FUNCTION ${S}.claim(text[], text[], integer, text, bigint, bigint) SET enable_sort = off;
`,
    },
    {
      version: 3,
      sql: `
-- Writes a batch of outcomes and claims the next jobs in one round trip and one commit
-- (they were two). p_settlements is a JSON array of {id, token, kind, result, error,
-- run_at, count_attempt, expires_at}; each is applied only where the job is still running
-- under that lease token. Then, when p_limit is given, claim() runs as on its own.
-- Returns JSON, which the driver parses natively: applied, one {id, queue, kind, run_at}
-- per outcome written; claimed, the claimed rows (null when nothing was asked); and
-- next_run_at, the earliest delayed job of those queues when fewer than p_limit came back.
CREATE FUNCTION ${S}.settle_and_claim(p_settlements jsonb, p_now bigint, p_bucket bigint,
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
  ), done AS (
    UPDATE ${S}.jobs j SET
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
    FROM s WHERE j.id = s.id AND j.state = 'running' AND j.lease_token = s.token
    RETURNING j.id, j.queue, s.kind, j.run_at
  ), touched AS (
    UPDATE ${S}.queues q SET last_processed_at = p_now
      FROM (SELECT DISTINCT queue FROM done WHERE kind <> 'retry') d
     WHERE q.name = d.queue AND (q.last_processed_at IS NULL OR q.last_processed_at < p_now - 1000)
  ), counted AS (
    INSERT INTO ${S}.counts (queue, bucket, shard, completed, failed)
    SELECT queue, p_bucket, pg_backend_pid(), count(*) FILTER (WHERE kind = 'complete'), count(*) FILTER (WHERE kind = 'fail')
      FROM done WHERE kind IN ('complete', 'fail') GROUP BY queue
    ON CONFLICT (queue, bucket, shard) DO UPDATE SET completed = counts.completed + excluded.completed,
      failed = counts.failed + excluded.failed
  ), notified AS (
    -- A retry that is runnable now wakes idle workers, as an enqueue does.
    SELECT pg_notify('${channel}', 'q:' || queue) FROM (SELECT DISTINCT queue FROM done WHERE kind = 'retry' AND run_at <= p_now) r
  )
  SELECT coalesce(json_agg(json_build_object('id', done.id, 'queue', done.queue, 'kind', done.kind, 'run_at', done.run_at)), '[]')
    INTO applied FROM done LEFT JOIN (SELECT count(*) FROM notified) n ON true;

  IF p_limit IS NULL THEN RETURN; END IF;
  SELECT coalesce(json_agg(c), '[]'), count(*) INTO claimed, v_claimed
    FROM ${S}.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM ${S}.jobs j
      WHERE j.state = 'scheduled' AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
`,
    },
    {
      version: 4,
      sql: `
-- claim() runs the same six statements on every call. Under the default plan_cache_mode,
-- PostgreSQL planned them afresh on each call (their custom plans looked cheaper than the
-- generic one, whose LIMIT it cannot see): half of claim()'s time at concurrency 1. Each of
-- them has one right plan whatever the parameters, an index range in claim order that stops
-- at its LIMIT, or a primary-key lookup per id it writes, so the generic plan is made once
-- per connection and kept. A kept plan must not be one made while the table was small, when
-- reading it whole looks cheapest: sequential scans, hash joins and merge joins are ruled
-- out. settle_and_claim() keeps custom plans; its outcome join now always looks each
-- outcome's job up by primary key (see its WHERE and its settings below).
ALTER FUNCTION ${S}.claim(text[], text[], integer, text, bigint, bigint)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;

CREATE OR REPLACE FUNCTION ${S}.settle_and_claim(p_settlements jsonb, p_now bigint, p_bucket bigint,
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
    SELECT s.* FROM ${S}.jobs j JOIN s ON j.id = s.id AND j.lease_token = s.token ORDER BY j.id FOR UPDATE OF j
  ), done AS (
    UPDATE ${S}.jobs j SET
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
    UPDATE ${S}.queues q SET last_processed_at = p_now
      FROM (SELECT DISTINCT queue FROM done WHERE kind <> 'retry') d
     WHERE q.name = d.queue AND (q.last_processed_at IS NULL OR q.last_processed_at < p_now - 1000)
  ), counted AS (
    INSERT INTO ${S}.counts (queue, bucket, shard, completed, failed)
    SELECT queue, p_bucket, pg_backend_pid(), count(*) FILTER (WHERE kind = 'complete'), count(*) FILTER (WHERE kind = 'fail')
      FROM done WHERE kind IN ('complete', 'fail') GROUP BY queue
    ON CONFLICT (queue, bucket, shard) DO UPDATE SET completed = counts.completed + excluded.completed,
      failed = counts.failed + excluded.failed
  ), notified AS (
    -- A retry that is runnable now wakes idle workers, as an enqueue does.
    SELECT pg_notify('${channel}', 'q:' || queue) FROM (SELECT DISTINCT queue FROM done WHERE kind = 'retry' AND run_at <= p_now) r
  )
  SELECT coalesce(json_agg(json_build_object('id', done.id, 'queue', done.queue, 'kind', done.kind, 'run_at', done.run_at)), '[]')
    INTO applied FROM done LEFT JOIN (SELECT count(*) FROM notified) n ON true;

  IF p_limit IS NULL THEN RETURN; END IF;
  SELECT coalesce(json_agg(c), '[]'), count(*) INTO claimed, v_claimed
    FROM ${S}.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM ${S}.jobs j
      WHERE j.state = 'scheduled' AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
-- The join of a batch's outcomes to their rows must look each one up by primary key, not
-- read the table: jsonb_to_recordset() is estimated at 100 rows, so with a table of a few
-- thousand rows the planner chose to read it all (0.9 ms for one outcome instead of 0.2).
ALTER FUNCTION ${S}.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint)
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
`,
    },
    {
      version: 5,
      sql: `
-- A stock server runs with jit = on. Ruling plan nodes out (migrations 2 and 4) does not
-- forbid them: a plan that still needs one is costed near 1e10, far above every JIT
-- threshold, so PostgreSQL compiled each call with LLVM: 0.3-1.3 s per claim instead of
-- about 1 ms. These functions read at most a batch of rows by index, where compiling never
-- pays, so they turn the JIT off for themselves, whatever the server or session sets.
ALTER FUNCTION ${S}.claim(text[], text[], integer, text, bigint, bigint) SET jit = off;
ALTER FUNCTION ${S}.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint) SET jit = off;
`,
    },
    {
      version: 6,
      sql: `
-- A failed job's \`failed\` hook is recorded as pending in the same write as the failure,
-- and the lease stays with the worker that runs it: a worker that dies meanwhile leaves it
-- to be taken over once that lease lapses, like a running job.
ALTER TABLE ${S}.jobs ADD COLUMN failed_hook text CHECK (failed_hook IN ('pending','done'));
CREATE INDEX jobs_hook_pending ON ${S}.jobs (lease_expires_at) WHERE failed_hook = 'pending';
-- The lease token of the attempt whose outcome the row holds: the same outcome written
-- again after a lost reply is recognised as applied.
ALTER TABLE ${S}.jobs ADD COLUMN settled_token text;

-- claim() as in migration 1, and it takes over pending hooks whose lease lapsed (the
-- worker died while the hook ran), ahead of queued jobs: they stay failed, and the worker
-- that claims them runs the hook alone.
CREATE OR REPLACE FUNCTION ${S}.claim(p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint, p_now bigint)
RETURNS SETOF ${S}.jobs LANGUAGE plpgsql AS $$
DECLARE
  v_queues text[];
  v_taken integer;
  v_hooks integer;
  v_ids uuid[];
BEGIN
  SELECT coalesce(array_agg(q), '{}') INTO v_queues FROM unnest(p_queues) AS q
    WHERE q NOT IN (SELECT name FROM ${S}.queues WHERE paused);
  IF cardinality(v_queues) = 0 THEN RETURN; END IF;

  UPDATE ${S}.jobs SET state = 'queued'
    WHERE id IN (SELECT id FROM ${S}.jobs WHERE state = 'scheduled' AND run_at <= p_now
                 ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED);

  UPDATE ${S}.jobs SET state = 'cancelled', finished_at = p_now, cancel_requested = false,
      expires_at = CASE WHEN keep_failed_ms IS NULL THEN NULL ELSE p_now + keep_failed_ms END,
      lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
    WHERE id IN (SELECT id FROM ${S}.jobs WHERE state = 'running' AND lease_expires_at <= p_now AND cancel_requested
                 AND queue = ANY (v_queues) AND name = ANY (p_names) FOR UPDATE SKIP LOCKED);

  RETURN QUERY
    UPDATE ${S}.jobs SET crashes = crashes + 1, started_at = p_now, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = true
      WHERE id IN (SELECT id FROM ${S}.jobs WHERE state = 'running' AND lease_expires_at <= p_now
                   AND queue = ANY (v_queues) AND name = ANY (p_names)
                   ORDER BY lease_expires_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
      RETURNING *;
  GET DIAGNOSTICS v_taken = ROW_COUNT;
  IF v_taken >= p_limit THEN RETURN; END IF;

  RETURN QUERY
    UPDATE ${S}.jobs SET crashes = crashes + 1, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = true
      WHERE id IN (SELECT id FROM ${S}.jobs WHERE failed_hook = 'pending' AND lease_expires_at <= p_now
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
      SELECT j.id, j.priority, j.run_at, j.seq FROM ${S}.jobs j
      WHERE j.state = 'queued' AND j.queue = q.name AND j.name = ANY (p_names)
      ORDER BY j.priority DESC, j.run_at, j.seq LIMIT p_limit - v_taken FOR UPDATE SKIP LOCKED
    ) r
    ORDER BY r.priority DESC, r.run_at, r.seq LIMIT p_limit - v_taken
  ) c;
  RETURN QUERY
    UPDATE ${S}.jobs SET state = 'running', started_at = p_now, lease_token = gen_random_uuid()::text,
        lease_worker = p_worker, lease_expires_at = p_now + p_lease_ms, lease_recovered = false
      WHERE id = ANY (v_ids)
      RETURNING *;
END $$;

-- settle_and_claim() as in migration 4, and:
-- - a \`fail\` with hook_pending stores failed_hook = 'pending' and keeps the lease, for the
--   worker that runs the hook; a \`hook-done\` under that lease stores 'done' and ends it;
-- - every outcome written stores its lease token in settled_token, and an outcome whose
--   token is already there (written before, its reply lost) is reported applied again,
--   changing nothing. Each applied element says whether it was written now (fresh).
CREATE OR REPLACE FUNCTION ${S}.settle_and_claim(p_settlements jsonb, p_now bigint, p_bucket bigint,
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
    SELECT s.* FROM ${S}.jobs j JOIN s ON j.id = s.id AND j.lease_token = s.token ORDER BY j.id FOR UPDATE OF j
  ), done AS (
    UPDATE ${S}.jobs j SET
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
    UPDATE ${S}.jobs j SET failed_hook = 'done', settled_token = s.token, lease_token = NULL, lease_worker = NULL, lease_expires_at = NULL
    FROM locked s WHERE j.id = s.id AND j.lease_token = s.token AND (j.state || '') = 'failed' AND j.failed_hook = 'pending'
      AND s.kind = 'hook-done'
    RETURNING j.id
  ), repeated AS (
    -- Outcomes already stored under this very lease (the statement sees the rows as they were
    -- before it). A hook-done counts only once the hook is done: while it is pending, the
    -- failure's token is the stored one, and a dead worker's lease must not end another's hook.
    SELECT s.id FROM s JOIN ${S}.jobs j ON j.id = s.id AND j.settled_token = s.token
     WHERE s.kind <> 'hook-done' OR j.failed_hook = 'done'
  ), touched AS (
    UPDATE ${S}.queues q SET last_processed_at = p_now
      FROM (SELECT DISTINCT queue FROM done WHERE kind <> 'retry') d
     WHERE q.name = d.queue AND (q.last_processed_at IS NULL OR q.last_processed_at < p_now - 1000)
  ), counted AS (
    INSERT INTO ${S}.counts (queue, bucket, shard, completed, failed)
    SELECT queue, p_bucket, pg_backend_pid(), count(*) FILTER (WHERE kind = 'complete'), count(*) FILTER (WHERE kind = 'fail')
      FROM done WHERE kind IN ('complete', 'fail') GROUP BY queue
    ON CONFLICT (queue, bucket, shard) DO UPDATE SET completed = counts.completed + excluded.completed,
      failed = counts.failed + excluded.failed
  ), notified AS (
    -- A retry that is runnable now wakes idle workers, as an enqueue does.
    SELECT pg_notify('${channel}', 'q:' || queue) FROM (SELECT DISTINCT queue FROM done WHERE kind = 'retry' AND run_at <= p_now) r
  ), written AS (
    SELECT id, queue, kind, run_at, true AS fresh FROM done
    UNION ALL SELECT id, NULL, 'hook-done', NULL, false FROM hooked
    UNION ALL SELECT id, NULL, NULL, NULL, false FROM repeated
  )
  SELECT coalesce(json_agg(json_build_object('id', w.id, 'queue', w.queue, 'kind', w.kind, 'run_at', w.run_at, 'fresh', w.fresh)), '[]')
    INTO applied FROM written w LEFT JOIN (SELECT count(*) FROM notified) n ON true;

  IF p_limit IS NULL THEN RETURN; END IF;
  SELECT coalesce(json_agg(c), '[]'), count(*) INTO claimed, v_claimed
    FROM ${S}.claim(p_queues, p_names, p_limit, p_worker, p_lease_ms, p_now) AS c;
  IF v_claimed < p_limit THEN
    SELECT min(j.run_at) INTO next_run_at FROM ${S}.jobs j
      WHERE j.state = 'scheduled' AND j.queue = ANY (p_queues) AND j.name = ANY (p_names);
  END IF;
END $$;
-- CREATE OR REPLACE drops a function's settings: the ones migrations 2, 4 and 5 gave them, again.
ALTER FUNCTION ${S}.claim(text[], text[], integer, text, bigint, bigint)
  SET enable_sort = off SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET jit = off;
ALTER FUNCTION ${S}.settle_and_claim(jsonb, bigint, bigint, text[], text[], integer, text, bigint)
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off;
`,
    },
  ];
}
