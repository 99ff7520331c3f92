-- The live-workers role's statements (sqlite-workers.ts), prepared once per connection
-- (sqlite-connection.ts).

-- name: upsertWorker
INSERT INTO jobsmith_workers (id, host, pid, queues, names, concurrency, running, started_at, last_heartbeat_at, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues, names = excluded.names,
  concurrency = excluded.concurrency, running = excluded.running, started_at = excluded.started_at,
  last_heartbeat_at = excluded.last_heartbeat_at, expires_at = excluded.expires_at

-- name: deleteWorker
DELETE FROM jobsmith_workers WHERE id = ?

-- name: purgeWorkers
DELETE FROM jobsmith_workers WHERE expires_at <= ?

-- name: liveWorkers
SELECT * FROM jobsmith_workers WHERE expires_at > ? ORDER BY id
