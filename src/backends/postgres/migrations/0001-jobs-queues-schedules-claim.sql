CREATE TABLE :SCHEMA.jobs (
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
CREATE INDEX jobs_ready ON :SCHEMA.jobs (queue, priority DESC, run_at, seq) WHERE state = 'queued';
CREATE INDEX jobs_scheduled ON :SCHEMA.jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON :SCHEMA.jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_key ON :SCHEMA.jobs (name, key) WHERE key IS NOT NULL AND state IN ('scheduled','queued','running');
CREATE INDEX jobs_expires ON :SCHEMA.jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX jobs_finished ON :SCHEMA.jobs (state, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_state ON :SCHEMA.jobs (state, queue);

CREATE TABLE :SCHEMA.queues (
  name text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  last_processed_at bigint
);

-- Finished-job counts per queue in 10-second buckets, for stats that outlive pruning.
-- Sharded by connection, so workers settling at once do not queue on one counter row.
CREATE TABLE :SCHEMA.counts (
  queue text NOT NULL,
  bucket bigint NOT NULL,
  shard integer NOT NULL,
  completed integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, bucket, shard)
);

CREATE TABLE :SCHEMA.schedules (
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
CREATE FUNCTION :SCHEMA.notify_runnable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify(':CHANNEL', 'q:' || queue) FROM (SELECT DISTINCT queue FROM new_rows WHERE state = 'queued') AS q;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON :SCHEMA.jobs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION :SCHEMA.notify_runnable();

-- Claims up to p_limit runnable jobs in one round trip: promotes due delayed jobs, ends
-- crashed jobs whose cancel was asked for, takes over expired leases (a crash, counted in
-- crashes), then takes queued jobs by priority, run time and enqueue order, merged across
-- the given queues. SKIP LOCKED: concurrent claimers never wait on or share a row.
CREATE FUNCTION :SCHEMA.claim(p_queues text[], p_names text[], p_limit integer, p_worker text, p_lease_ms bigint, p_now bigint)
RETURNS SETOF :SCHEMA.jobs LANGUAGE plpgsql AS $$
DECLARE
  v_queues text[];
  v_taken integer;
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
