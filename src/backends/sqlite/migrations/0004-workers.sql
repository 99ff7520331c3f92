-- Live workers (capability live-workers): one row per running worker, written when it starts
-- and by every heartbeat, deleted when it stops. A crashed worker's row lapses at expires_at.
-- queues and names are JSON arrays; queues is NULL for a worker serving every queue.
CREATE TABLE jobsmith_workers (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  queues TEXT,
  names TEXT NOT NULL,
  concurrency INTEGER NOT NULL,
  running INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  last_heartbeat_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
