-- The live-workers role's statements (postgres-workers.ts). :SCHEMA is the quoted schema name,
-- filled in once when the backend is built.

-- name: registerWorker
-- register_worker() of migration 7; renewLeases (queue.sql) calls it with the same arguments.
SELECT :SCHEMA.register_worker($1::text, $2::text, $3::integer, $4::text[], $5::text[], $6::integer, $7::integer, $8::bigint, $9::bigint, $10::bigint)

-- name: deregisterWorker
DELETE FROM :SCHEMA.workers WHERE id = $1

-- name: listWorkers
-- Lapsed rows are deleted on the way. Ids sort by code point (COLLATE "C"), as on every backend.
WITH lapsed AS (DELETE FROM :SCHEMA.workers WHERE expires_at <= $1)
SELECT id, host, pid, queues, names, concurrency, running, started_at, last_heartbeat_at, expires_at
  FROM :SCHEMA.workers WHERE expires_at > $1 ORDER BY id COLLATE "C"
