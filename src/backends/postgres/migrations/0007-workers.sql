-- Live workers (capability live-workers): one row per running worker, written when it starts
-- and by every heartbeat, deleted when it stops. A crashed worker's row lapses at expires_at
-- (the Jobsmith clock, like every time here). queues is NULL for a worker serving every queue.
CREATE TABLE :SCHEMA.workers (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  queues text[],
  names text[] NOT NULL,
  concurrency integer NOT NULL,
  running integer NOT NULL,
  started_at bigint NOT NULL,
  last_heartbeat_at bigint NOT NULL,
  expires_at bigint NOT NULL
);

-- One registration, inserted or refreshed until p_now + p_ttl_ms. A function, so the
-- heartbeat's lease renewal (renewLeases in sql/queue.sql) writes it in the same statement
-- as registerWorker (sql/workers.sql) does on its own, from one text.
CREATE FUNCTION :SCHEMA.register_worker(p_id text, p_host text, p_pid integer, p_queues text[], p_names text[],
    p_concurrency integer, p_running integer, p_started_at bigint, p_now bigint, p_ttl_ms bigint)
RETURNS boolean LANGUAGE sql AS $$
  INSERT INTO :SCHEMA.workers (id, host, pid, queues, names, concurrency, running, started_at, last_heartbeat_at, expires_at)
    VALUES (p_id, p_host, p_pid, p_queues, p_names, p_concurrency, p_running, p_started_at, p_now, p_now + p_ttl_ms)
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues, names = excluded.names,
      concurrency = excluded.concurrency, running = excluded.running, started_at = excluded.started_at,
      last_heartbeat_at = excluded.last_heartbeat_at, expires_at = excluded.expires_at
    RETURNING true
$$;
